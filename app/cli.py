"""``gandan``: the one command line of the project (typer). Thin: every command calls into ``geo``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from geo.errors import DataValidationError, GandanError
from geo.settings import get_settings

__all__ = ["app"]

app = typer.Typer(help="gandan — gần dân: the nearest open public-service point in Hanoi.", no_args_is_help=True)
data_app = typer.Typer(help="Fetch and prepare the source data.", no_args_is_help=True)
network_app = typer.Typer(help="Road networks per travel mode (osmnx).", no_args_is_help=True)
db_app = typer.Typer(help="The PostGIS backend.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(network_app, name="network")
app.add_typer(db_app, name="db")
staff_app = typer.Typer(help="Staff sign-in tokens and folding staff changes back into the data.", no_args_is_help=True)
token_app = typer.Typer(help="Sign-in tokens for the staff API and page.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
staff_app.add_typer(token_app, name="token")

err = Console(stderr=True)
out = Console()
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = 1) -> None:
    """Print one line to stderr and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def domain_errors(func: F) -> F:
    """Turn a `GandanError` into a one-line message and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DataValidationError as exc:
            for problem in exc.problems:
                err.print(f"  {problem}", highlight=False, soft_wrap=True)
            _fail(f"{len(exc.problems)} problem(s); {exc.detail}")
        except GandanError as exc:
            _fail(exc.detail)

    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- data
@data_app.command("fetch")
@domain_errors
def data_fetch(
    group: Annotated[list[str] | None, typer.Option(help="Only these source groups.")] = None,
) -> None:
    """Download the pinned upstream files (or copy them from GANDAN_DATA_MIRROR) and verify checksums."""
    from geo.sources import fetch_all, load_sources

    settings = get_settings()
    sources = load_sources(settings)
    origin = f"mirror {settings.data_mirror}" if settings.data_mirror else "upstream"
    with out.status(f"fetching {len(sources)} files from {origin}"):
        paths = fetch_all(settings, groups=group)
    out.print(f"{len(paths)} files verified in {settings.upstream_dir}")


@data_app.command("locate-points")
@domain_errors
def data_locate_points(
    write: Annotated[bool, typer.Option(help="Write the coordinates back into the registry CSV.")] = True,
) -> None:
    """Derive each service point's coordinates from its address and label the method and precision."""
    from geo.geocode import run_locate

    report = run_locate(get_settings(), write=write)
    out.print(report)


# ---------------------------------------------------------------------------------------------- build
@app.command("build")
@domain_errors
def build(
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Validate every source and write the index artifact (the previous one stays on any error)."""
    from geo.build import build_index

    if as_json:
        index = build_index()
        print(json.dumps(index.manifest["summary"], ensure_ascii=False, indent=2))
        return
    with out.status("building") as status:
        index = build_index(progress=lambda msg: status.update(f"building: {msg}"))
    summary = index.manifest["summary"]
    out.print(
        f"index written to {index.path}: {summary['communes']} communes "
        f"({summary['wards']} wards, {summary['rural_communes']} communes), "
        f"{summary['legacy_units']} legacy units, {summary['service_points']['total']} service points, "
        f"{summary['procedures']} procedures"
    )
    catalogue = summary.get("catalogue")
    if catalogue:
        left = ", ".join(f"{n} {reason}" for reason, n in catalogue["left_out"].items()) or "none"
        out.print(
            f"  national catalogue: {catalogue['kept']} of {catalogue['rows_read']} kept (left out: {left}); "
            f"{catalogue['with_details']} with details, place known for {catalogue['known_place_share']:.1%}; "
            f"{len(catalogue['parse_problems'])} parse problem(s), "
            f"{len(catalogue['authored_disagreements'])} disagreement(s) with procedures.csv (authored wins)",
            highlight=False,
            soft_wrap=True,
        )
        for problem in catalogue["parse_problems"] + catalogue["authored_disagreements"]:
            out.print(f"    {problem['file']}: {problem['message']}", highlight=False, soft_wrap=True)
    for note in index.manifest.get("notes", []):
        out.print(f"  note: {note}", highlight=False)


# ---------------------------------------------------------------------------------------------- nearest
@app.command("nearest")
@domain_errors
def nearest(
    lat: Annotated[float, typer.Option(help="Latitude (WGS 84).")],
    lon: Annotated[float, typer.Option(help="Longitude (WGS 84).")],
    procedure: Annotated[str, typer.Option(help="Procedure code (1.001193) or name.")],
    at: Annotated[str | None, typer.Option(help="ISO 8601 time with offset; default now.")] = None,
    k: Annotated[int, typer.Option(help="How many places.")] = 3,
    mode: Annotated[str, typer.Option(help="straight | walk | motorbike | car")] = "straight",
    open_only: Annotated[bool, typer.Option(help="Only places open at that time.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's GeoJSON.")] = False,
) -> None:
    """The nearest service points that handle a procedure, open ones first."""
    from geo.hours import TZ, parse_time
    from geo.service import get_service

    when = parse_time(at) if at else datetime.now(TZ)
    service = get_service()
    result = service.nearest(lon=lon, lat=lat, procedure=procedure, at=when, k=k, mode=mode, open_only=open_only)
    collection = service.to_feature_collection(result)
    if as_json:
        print(json.dumps(collection, ensure_ascii=False, indent=2))
        return
    _print_nearest(collection)


def _print_nearest(collection: dict[str, Any]) -> None:
    """A ``/v1/nearest`` collection as a Vietnamese table, its notes and the earliest reopening."""
    from geo.messages import moment_text, state_label

    proc = collection["procedure"]
    at = datetime.fromisoformat(collection["query"]["at"])
    out.print(f"[bold]{proc['name']}[/] ({proc['code']}) — lúc {moment_text(at)}", highlight=False)
    table = Table(show_lines=False)
    for col in ("#", "Nơi", "Địa chỉ", "Khoảng cách", "Trạng thái", "Mở / đóng"):
        table.add_column(col)
    for i, feature in enumerate(collection["features"], start=1):
        p = feature["properties"]
        distance = f"{p['distance_m'] / 1000:.2f} km".replace(".", ",")
        if p["travel_time_s"] is not None:
            distance += f", {p['travel_time_s'] / 60:.0f} phút"
        change = (p["closes_at"] and f"đóng {p['closes_at'][11:16]}") or (
            p["opens_at"] and f"mở lại {moment_text(datetime.fromisoformat(p['opens_at']))}"
        )
        table.add_row(str(i), p["name"], p["address"], distance, state_label(p["state"]), change or "")
    out.print(table)
    _procedure_lines(collection["procedure"].get("summary"), collection.get("handled_elsewhere"))
    for note in collection.get("notes", []):
        out.print(f"lưu ý: {note['text']}", highlight=False, soft_wrap=True)


def _procedure_lines(summary: dict[str, Any] | None, elsewhere: dict[str, Any] | None) -> None:
    """The short "where else / file online / bring / time / fee" lines of a procedure, in Vietnamese."""
    for note in (elsewhere or {}).get("notes", []):
        out.print(f"[bold]{note['text']}[/]", highlight=False, soft_wrap=True)
    if summary and summary.get("text"):
        out.print(f"tóm tắt: {summary['text']}", highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------------- procedure
@app.command("procedure")
@domain_errors
def procedure(
    code: Annotated[str, typer.Argument(help="Procedure code (1.001193) or full name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON (/v1/procedures/{code}).")] = False,
) -> None:
    """One procedure of the national catalogue: where in Hanoi, channels, documents, legal basis, portal."""
    from geo.service import get_service

    record = get_service().procedure_detail(code)
    if as_json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return
    where = record["where"]
    out.print(f"[bold]{record['name']}[/] ({record['code']})", highlight=False, soft_wrap=True)
    out.print(f"lĩnh vực: {record.get('field') or '—'} · cấp: {', '.join(record['levels']) or '—'}", highlight=False)
    if where["place"] == "pasc":
        kinds = ", ".join(where["kinds"])
        out.print(f"nơi nhận ở Hà Nội: {where['locations']} điểm ({kinds})", highlight=False, soft_wrap=True)
    _procedure_lines(record["summary"], record["handled_elsewhere"])
    if record["applicants"]:
        out.print(f"đối tượng: {'; '.join(record['applicants'])}", highlight=False, soft_wrap=True)
    if record["channels"]:
        table = Table("Cách nộp", "Thời gian", "Phí, lệ phí")
        for channel in record["channels"]:
            table.add_row(channel["label"], channel["time"], channel["fee"])
        out.print(table)
    for role, title in (("submit", "Giấy tờ phải nộp"), ("show", "Giấy tờ phải xuất trình")):
        documents = record["documents"][role]
        if documents:
            out.print(f"[bold]{title}[/]:", highlight=False)
        for doc in documents:
            counts = f" (bản chính {doc['originals'] or 0}, bản sao {doc['copies'] or 0})"
            case = f" [{doc['condition']}]" if doc["condition"] else ""
            out.print(f"  - {doc['name'].splitlines()[0]}{counts}{case}", highlight=False, soft_wrap=True)
    for basis in record["legal_basis"]:
        out.print(f"căn cứ: {basis['title']}", highlight=False, soft_wrap=True)
    if record["portal_url"]:
        out.print(f"cổng DVC: {record['portal_url']}", highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------------- network
SpeedsOption = Annotated[Path | None, typer.Option(help="Speeds/access TOML; default data/network_speeds.toml.")]
ModesOption = Annotated[list[str] | None, typer.Option(help="Only these modes (walk, motorbike, car).")]


def _build_network(
    build: Callable[..., dict[str, Any]],
    source: Any,
    speeds: Path | None,
    mode: list[str] | None,
    doing: str,
    step: str,
) -> None:
    """``build(source, ...)`` (`build_graphs` or `build_from_place`) into the network folder under a status line."""
    from geo.modes import ROAD_MODES

    settings = get_settings()
    with out.status(doing) as status:
        manifest = build(
            source,
            settings.network_dir,
            speeds_path=speeds or settings.network_speeds,
            modes=mode or ROAD_MODES,
            progress=lambda msg: status.update(f"{step}: {msg}"),
        )
    _network_report(manifest)


def _network_report(manifest: dict[str, Any]) -> None:
    for mode, info in manifest.get("modes", {}).items():
        out.print(f"{mode}: {info.get('nodes', '?'):,} nodes, {info.get('edges', '?'):,} edges", highlight=False)


@network_app.command("build")
@domain_errors
def network_build(
    osm: Annotated[
        list[Path] | None, typer.Option(help="OSM XML files; default: the pinned central-Hanoi extracts.")
    ] = None,
    speeds: SpeedsOption = None,
    mode: ModesOption = None,
) -> None:
    """Build the road graph of each travel mode offline from OSM XML and save it beside the index."""
    from geo.network import build_graphs
    from geo.sources import paths_of_group

    paths = list(osm) if osm else paths_of_group("osm-central-hanoi", get_settings())
    _build_network(build_graphs, paths, speeds, mode, "building road graphs", "building road graphs")


@network_app.command("fetch")
@domain_errors
def network_fetch(
    place: Annotated[str, typer.Option(help="Place to fetch from Overpass, e.g. 'Hà Nội, Việt Nam'.")],
    speeds: SpeedsOption = None,
    mode: ModesOption = None,
) -> None:
    """Fetch the road network of a place with osmnx (needs internet) and save each mode's graph."""
    from geo.network import build_from_place

    _build_network(build_from_place, place, speeds, mode, f"fetching {place} from Overpass", "fetching")


# ---------------------------------------------------------------------------------------------- serve
@app.command("serve")
@domain_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    backend: Annotated[str | None, typer.Option(help="embedded | postgis")] = None,
    database_url: Annotated[str | None, typer.Option(help="PostGIS URL (postgis backend).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API and map pages with uvicorn."""
    import os

    import uvicorn

    if backend:
        os.environ["GANDAN_BACKEND"] = backend
    if database_url:
        os.environ["GANDAN_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


# ---------------------------------------------------------------------------------------------- coverage
@app.command("coverage")
@domain_errors
def coverage(
    procedure: Annotated[str, typer.Option(help="Procedure code (1.001193) or name.")],
    mode: Annotated[str, typer.Option(help="straight | walk | motorbike | car")] = "straight",
    threshold: Annotated[float, typer.Option(help="Metres (straight) or minutes (network modes).")] = 2000.0,
    out_dir: Annotated[str, typer.Option("--out", help="Output folder.")] = "coverage-out",
    compare: Annotated[str | None, typer.Option(help="before_after: pre-merger network vs today.")] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help="Changes to measure: CSV (action[add|move|close],id,lon,lat,kind,name) or the page's JSON."),
    ] = None,
    sites: Annotated[int, typer.Option(help="Suggest this many new sites (MCLP); 0 = none.")] = 0,
    grid: Annotated[float, typer.Option(help="Population grid spacing (m).")] = 250.0,
) -> None:
    """Share of each commune's population within reach of a place that handles a procedure; maps and tables."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from app.assets import VENDOR_DIR, web_assets_installed
    from geo.coverage.maps import expected_steps, run_to_files

    # The HTML loads Leaflet & co. from a copy in the output folder (relative links): it opens offline,
    # and still does after the folder is moved or mailed.
    offline = web_assets_installed()
    formats = ("html", "png", "csv", "gpkg")
    total = expected_steps(mode, compare, bool(scenario), sites, formats)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("coverage", total=total)

        def step(message: str) -> None:
            bar.update(task, description=message, advance=1)

        report, paths = run_to_files(
            procedure,
            mode,
            threshold,
            out_dir,
            compare=compare,
            scenario=scenario,
            sites=sites,
            grid_m=grid,
            formats=formats,
            progress=step,
            vendor_dir=VENDOR_DIR if offline else None,
        )
    if not offline:
        report.notes.append("web assets not installed (make web-assets): the HTML loads Leaflet from CDNs")
    totals = report.totals()
    reach = f"{threshold:g} {report.unit} ({mode})"
    line = f"{report.procedure['name']} ({report.procedure['code']}), within {reach}: {totals['share']:.1%}"
    if report.before is not None:
        line += f" ({report.before.label}: {totals['before']['share']:.1%})"
    out.print(f"{line} of {totals['population']:,} people", highlight=False, soft_wrap=True)
    if mode != "straight":
        out.print(
            f"  modelled, not measured on the road network (straight line × circuity): {totals['modelled_share']:.1%} "
            "of the population",
            highlight=False, soft_wrap=True,
        )
    if report.sites is not None:
        table = Table("#", "site", "commune", "gain (people)", "covered")
        for s in report.sites.sites:
            table.add_row(str(s.rank), s.name, s.commune_name or "", f"{s.gain_population:,}", f"{s.share:.1%}")
        out.print(table)
    for kind, path in paths.items():
        out.print(f"  {kind}: {path}", highlight=False, soft_wrap=True)
    for note in report.notes:
        out.print(f"  note: {note}", highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------------- db
def _loader_url(database_url: str | None) -> str:
    url = database_url or get_settings().database_url
    if not url:
        _fail("no database URL: pass --database-url (the loader role) or set GANDAN_DATABASE_URL")
    return str(url)


@db_app.command("load")
@domain_errors
def db_load(
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL of the loader role; default GANDAN_DATABASE_URL.")
    ] = None,
) -> None:
    """Load the built index into PostGIS in one transaction (migrates first; the previous data stays on error)."""
    from geo.index import read_index
    from geo.store.postgis import load_index

    url = _loader_url(database_url)
    report = load_index(read_index(settings=get_settings()), url)
    counts = ", ".join(f"{n} {name}" for name, n in report.rows.items())
    out.print(
        f"loaded boundary set {report.boundary_set} in {report.seconds:.2f} s: {counts}",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("create")
@domain_errors
def db_create(
    admin_url: Annotated[
        str, typer.Option(envvar="GANDAN_ADMIN_DATABASE_URL", help="URL of a superuser on the server (any database).")
    ],
    database: Annotated[str, typer.Option(help="The database to create.")] = "gandan",
    loader_role: Annotated[str, typer.Option(help="Login role that owns the schema and loads.")] = "gandan_loader",
    reader_role: Annotated[str, typer.Option(help="Login role the API connects as (read-only).")] = "gandan_reader",
    loader_password: Annotated[
        str | None, typer.Option(envvar="GANDAN_LOADER_PASSWORD", help="Set the loader's password.")
    ] = None,
    reader_password: Annotated[
        str | None, typer.Option(envvar="GANDAN_READER_PASSWORD", help="Set the reader's password.")
    ] = None,
) -> None:
    """Create the database, PostGIS and the loader and reader roles from nothing (idempotent; a superuser runs it)."""
    from sqlalchemy.engine import make_url

    from geo.store.load import create_database

    for line in create_database(
        admin_url,
        database,
        loader_role=loader_role,
        reader_role=reader_role,
        loader_password=loader_password,
        reader_password=reader_password,
    ):
        out.print(line, highlight=False, soft_wrap=True)
    server = make_url(admin_url).set(drivername="postgresql+psycopg", database=database, password=None)
    out.print(f"load with:  gandan db load --database-url {server.set(username=loader_role)}", highlight=False)
    out.print(f"serve with: GANDAN_DATABASE_URL={server.set(username=reader_role)}", highlight=False)


@db_app.command("migrate")
@domain_errors
def db_migrate(
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL of the loader role; default GANDAN_DATABASE_URL.")
    ] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Upgrade the PostGIS schema (Alembic) without loading data."""
    from geo.store.postgis import migrate

    migrate(_loader_url(database_url), revision)
    out.print(f"schema at {revision}")


# ---------------------------------------------------------------------------------------------- ask, mcp
@app.command("ask")
@domain_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, e.g. 'làm giấy khai sinh ở phường Cầu Giấy'.")],
    lat: Annotated[float | None, typer.Option(help="Latitude of the person (WGS 84).")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude of the person (WGS 84).")] = None,
    at: Annotated[str | None, typer.Option(help="ISO 8601 time with offset; default now.")] = None,
    k: Annotated[int, typer.Option(help="How many places.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON (/v1/ask).")] = False,
    when: Annotated[
        str | None, typer.Option(help="The time of the visit in words ('sáng mai'), read relative to --at.")
    ] = None,
) -> None:
    """Answer a free-text question in Vietnamese (procedure, place, time of the visit), or say what to ask back."""
    from geo.ask import as_plain, format_answer, get_asker
    from geo.hours import TZ, parse_time
    from geo.service import get_service

    now = parse_time(at) if at else datetime.now(TZ)
    response = as_plain(get_asker(get_service()).ask(question, lon=lon, lat=lat, at=now, k=k, when=when))
    if as_json:
        print(json.dumps(response, ensure_ascii=False, indent=2))
        return
    out.print(format_answer(response), highlight=False, soft_wrap=True)
    understood = response["understood"].get("procedure") or {}
    elsewhere = understood.get("handled_elsewhere") if response["status"] != "answered" else None
    _procedure_lines(understood.get("summary"), elsewhere)


@app.command("mcp")
@domain_errors
def mcp(
    transport: Annotated[str, typer.Option(help="stdio | http (streamable HTTP at /mcp).")] = "stdio",
    host: Annotated[str, typer.Option(help="Interface to bind (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (http).")] = 8765,
) -> None:
    """Serve the MCP tools (nearest place, procedure search and details, commune lookup, coverage)."""
    from app.mcp import run

    if transport not in ("stdio", "http"):
        _fail(f"--transport must be stdio or http, not {transport!r}")
    run("http" if transport == "http" else "stdio", host=host, port=port)


# ---------------------------------------------------------------------------------------------- staff
def _staff_store() -> Any:
    from geo.store.staff import open_staff_store

    return open_staff_store(get_settings())


@token_app.command("create")
@domain_errors
def staff_token_create(
    name: Annotated[str, typer.Option(help="Who holds the token (shown in the audit).")],
    role: Annotated[str, typer.Option(help="editor (makes changes) | admin (also tokens, anyone's undo).")] = "editor",
    days: Annotated[int, typer.Option(help="Valid for this many days.")] = 90,
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    if role not in ("editor", "admin"):
        _fail(f"--role must be editor or admin, not {role!r}")
    secret, record = _staff_store().create_token(name, role, days=days, created_by="cli")
    err.print(
        f"token {record.id} for {record.name} ({record.role}), valid until {record.expires_at:%Y-%m-%d}; "
        "shown once, keep it safe:",
        highlight=False,
    )
    print(secret)


@token_app.command("list")
@domain_errors
def staff_token_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every token (never its secret)."""
    tokens = [t.to_json() for t in _staff_store().tokens()]
    if as_json:
        print(json.dumps(tokens, ensure_ascii=False, indent=2))
        return
    table = Table("id", "name", "role", "expires", "state")
    for t in tokens:
        state = "revoked" if t["revoked_at"] else ("active" if t["active"] else "expired")
        table.add_row(t["id"], t["name"], t["role"], t["expires_at"][:10], state)
    out.print(table)


@token_app.command("revoke")
@domain_errors
def staff_token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (gandan staff token list).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit).")] = "",
) -> None:
    """Revoke a token (every worker refuses it within 5 s)."""
    record = _staff_store().revoke_token(token_id, actor="cli", reason=reason)
    out.print(f"revoked {record.id} ({record.name})", highlight=False)


@staff_app.command("export")
@domain_errors
def staff_export(
    dry_run: Annotated[bool, typer.Option(help="Print the diff instead of writing the file.")] = False,
) -> None:
    """Write the active staff changes into data/service_points.csv (review with git diff, commit, rebuild)."""
    import difflib

    from geo.changes import export_changes
    from geo.registry import POINTS_FILE

    path = get_settings().data_dir / POINTS_FILE
    before = path.read_text("utf-8")
    report = export_changes(before, _staff_store().changes())
    if dry_run:
        diff = difflib.unified_diff(before.splitlines(True), report.text.splitlines(True), str(path), str(path))
        print("".join(diff), end="")
    else:
        path.write_text(report.text, "utf-8")
    err.print(f"{len(report.exported)} change(s) folded into {path}", highlight=False)
    for change in report.kept:
        err.print(f"  kept in the overlay: {change.id} {change.kind} at {change.place_id}", highlight=False)


def main() -> None:  # pragma: no cover - console entry for `python -m app.cli`
    """Run the CLI."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
