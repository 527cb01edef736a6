"""``gandan``: the one command line of the project (typer). Thin: every command calls into ``geo``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from geo.errors import DataValidationError, GandanError
from geo.settings import get_settings

__all__ = ["app"]

app = typer.Typer(
    help="gandan — gần dân: the nearest open public-service point in Hanoi.", no_args_is_help=True
)
data_app = typer.Typer(help="Fetch and prepare the source data.", no_args_is_help=True)
network_app = typer.Typer(help="Road networks per travel mode (osmnx).", no_args_is_help=True)
db_app = typer.Typer(help="The PostGIS backend.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(network_app, name="network")
app.add_typer(db_app, name="db")

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
    from geo.locate import run_locate

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
    result = service.nearest(
        lon=lon, lat=lat, procedure=procedure, at=when, k=k, mode=mode, open_only=open_only
    )
    collection = service.to_feature_collection(result)
    if as_json:
        print(json.dumps(collection, ensure_ascii=False, indent=2))
        return
    proc = collection["procedure"]
    out.print(f"[bold]{proc['name']}[/] ({proc['code']}) — {collection['query']['at']}", highlight=False)
    table = Table(show_lines=False)
    for col in ("#", "Nơi", "Địa chỉ", "Khoảng cách", "Trạng thái", "Mở / đóng"):
        table.add_column(col)
    for i, feature in enumerate(collection["features"], start=1):
        p = feature["properties"]
        distance = f"{p['distance_m'] / 1000:.2f} km"
        if p["travel_time_s"] is not None:
            distance += f", {p['travel_time_s'] / 60:.0f} phút"
        change = (p["closes_at"] and f"đóng {p['closes_at'][11:16]}") or (
            p["opens_at"] and f"mở {p['opens_at']}"
        )
        table.add_row(str(i), p["name"], p["address"], distance, p["state"], change or "")
    out.print(table)
    for note in collection.get("notes", []):
        out.print(f"note: {note}", highlight=False)


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


def main() -> None:  # pragma: no cover - console entry for `python -m geo.cli`
    """Run the CLI."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
