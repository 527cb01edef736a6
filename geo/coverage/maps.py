"""Maps and files of a coverage report: folium choropleth, static PNG, CSV and GeoPackage.

`write_outputs` writes all four for a `geo.coverage.engine.CoverageReport`; `run_to_files` is what
``gandan coverage`` runs (measure, optionally compare, apply a scenario and suggest sites, then write).
Every output carries its sources and method (`caption`), with "© OpenStreetMap contributors" whenever
road travel times were used. The HTML loads Leaflet & co. from copies beside it or inside it
(`geo.coverage.portable`), so it works offline and after the folder is moved.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.boundaries import boundary_set_spec
from geo.coverage.demand import DEFAULT_GRID_M, Demand
from geo.coverage.engine import CoverageEngine, CoverageReport, CoverageResult
from geo.coverage.scenarios import read_scenario
from geo.errors import InvalidParameter
from geo.geodesy import METRIC_CRS, WGS84
from geo.index import Index
from geo.settings import Settings

__all__ = [
    "caption",
    "choropleth",
    "expected_steps",
    "output_stem",
    "reach_phrase",
    "run_to_files",
    "write_csv",
    "write_geopackage",
    "write_html",
    "write_outputs",
    "write_png",
]

def output_stem(report: CoverageReport) -> str:
    """A file name stem that says what was measured, e.g. ``coverage_1.001193_straight_2000m_before_after``."""
    stem = f"coverage_{report.procedure['code']}_{report.mode}_{report.threshold:g}{report.unit}"
    return stem + (f"_{report.compare}" if report.compare else "")


def reach_phrase(report: CoverageReport) -> str:
    """``2,000 m in a straight line`` / ``15 min on foot`` / ``10 min by motorbike``."""
    if report.mode == "straight":
        return f"{report.threshold:,.0f} m in a straight line"
    return f"{report.threshold:g} min {'on foot' if report.mode == 'walk' else 'by ' + report.mode}"


def caption(report: CoverageReport, settings: Settings | None = None) -> str:
    """The sources and method line every output carries (OSM attribution when roads were used).

    The boundary set's data and licences come from its ``caption`` in ``data/boundaries/sets.toml``
    (``settings`` say where that file is; the process settings by default).
    """
    parts = [
        f"Population spread evenly over a {report.model['grid_m']:g} m grid in each commune",
        boundary_set_spec(report.boundary_set, settings).caption["en"],
        "places: gandan registry; former commune offices: vietnamadminunits points"
        if report.before is not None and report.compare == "before_after"
        else "places: gandan registry",
    ]
    if report.mode != "straight":
        parts.append(
            f"travel time on roads © OpenStreetMap contributors (ODbL 1.0) where the graph reaches, else straight "
            f"line × circuity {report.model['circuity']:.2f} at {report.model['fallback_speed_kmh']:.1f} km/h"
        )
    return "; ".join(parts) + "."


def write_csv(report: CoverageReport, path: str | Path) -> Path:
    """Per-commune table as CSV (UTF-8 with BOM so spreadsheet programs read Vietnamese names)."""
    path = Path(path)
    report.table().to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _places_layer(facilities: gpd.GeoDataFrame, result: CoverageResult, demand: Demand) -> gpd.GeoDataFrame:
    """Places with the population each one serves (nearest-place catchment)."""
    served = np.bincount(
        result.points.source[result.points.source >= 0],
        demand.weight[result.points.source >= 0],
        minlength=len(facilities),
    )
    layer = facilities.copy()
    layer["served_population"] = np.round(served).astype(np.int64)
    return layer


def write_geopackage(report: CoverageReport, path: str | Path, demand: Demand | None = None) -> Path:
    """Write a GeoPackage for QGIS.

    Layers: ``communes`` (polygons + measures), ``places`` and, when present, ``places_before``,
    ``new_sites`` and ``changes`` (all EPSG:4326).
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    frame = report.frame()
    frame.to_file(path, layer="communes", driver="GPKG", engine="pyogrio")
    if demand is not None:
        _places_layer(report.after.facilities, report.after, demand).to_file(path, layer="places", driver="GPKG")
        if report.before is not None:
            _places_layer(report.before.facilities, report.before, demand).to_file(
                path, layer="places_before", driver="GPKG"
            )
    else:
        report.after.facilities.to_file(path, layer="places", driver="GPKG")
    if report.sites is not None and len(report.sites.sites):
        report.sites.frame().to_file(path, layer="new_sites", driver="GPKG")
    if report.changes:
        changes = gpd.GeoDataFrame(
            [c.__dict__ for c in report.changes],
            geometry=[None if c.lon is None else shapely.Point(c.lon, c.lat) for c in report.changes],
            crs=WGS84,
        )
        changes.to_file(path, layer="changes", driver="GPKG")
    return path


def _scale_bar(ax: Any, length_m: float = 10_000.0) -> None:
    """A black-and-white scale bar in the lower left of a metric axes, and a north arrow."""
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    x, y = x0 + 0.05 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    h = 0.008 * (y1 - y0)
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (x + i * length_m / 2, y), length_m / 2, h, facecolor="black" if i == 0 else "white",
                edgecolor="black", linewidth=0.6, zorder=5,
            )
        )
    ax.text(x, y + 1.8 * h, "0", ha="center", va="bottom", fontsize=7)
    ax.text(x + length_m, y + 1.8 * h, f"{length_m / 1000:g} km", ha="center", va="bottom", fontsize=7)
    ax.annotate(
        "N", xy=(x1 - 0.06 * (x1 - x0), y1 - 0.06 * (y1 - y0)), xytext=(x1 - 0.06 * (x1 - x0), y1 - 0.14 * (y1 - y0)),
        ha="center", va="center", fontsize=10, fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.2},
    )


def _plot_changes(ax: Any, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, label: str) -> None:
    """Mark places that exist only before (closed or moved away) and only after (added or moved here)."""
    def key(f: gpd.GeoDataFrame) -> set[tuple[str, float, float]]:
        return set(zip(f["id"], f.geometry.x.round(6), f.geometry.y.round(6), strict=True))

    gone, new = key(before) - key(after), key(after) - key(before)
    if len(gone) + len(new) > 60:  # a different network (pre-merger vs today), not a few edits
        return
    styles = ((gone, "x", "black", "closed / moved from"), (new, "^", "#27ae60", "added / moved to"))
    for points, marker, color, text in styles:
        if points:
            pts = gpd.GeoSeries(gpd.points_from_xy([p[1] for p in points], [p[2] for p in points]), crs=WGS84)
            pts.to_crs(METRIC_CRS).plot(ax=ax, marker=marker, color=color, markersize=40, zorder=6,
                                        label=f"{text} ({len(points)})")
    ax.legend(loc="upper left", fontsize=7, frameon=True, title=label, title_fontsize=7)


def write_png(report: CoverageReport, path: str | Path, dpi: int = 150) -> Path:
    """A static map for reports: share covered per commune (and its change when comparing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    frame = report.frame().to_crs(METRIC_CRS)
    frame["share_pct"] = frame["share"] * 100
    panels = 2 if report.before is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(8 * panels, 9), squeeze=False)
    ax = axes[0, 0]
    frame.plot(
        column="share_pct", ax=ax, cmap="YlGnBu", vmin=0, vmax=100, edgecolor="white", linewidth=0.3,
        legend=True, legend_kwds={"label": f"population within {reach_phrase(report)} (%)", "shrink": 0.55,
                                  "orientation": "horizontal", "pad": 0.02},
    )
    places = report.after.facilities.to_crs(METRIC_CRS)
    places.plot(ax=ax, color="#c0392b", markersize=5, zorder=4, label=f"{report.after.label}: {len(places)} places")
    t = report.after.totals
    ax.set_title(
        f"{report.after.label}: {t['share']:.1%} of {t['population'] / 1e6:.2f} M people covered", fontsize=10
    )
    if report.sites is not None and len(report.sites.sites):
        report.sites.frame().to_crs(METRIC_CRS).plot(
            ax=ax, marker="*", color="#f39c12", edgecolor="black", markersize=140, zorder=6,
            label=f"{len(report.sites.sites)} suggested new sites",
        )
    if report.network_extent is not None:
        extent = gpd.GeoSeries([report.network_extent], crs=WGS84).to_crs(METRIC_CRS)
        extent.boundary.plot(ax=ax, color="#e67e22", linestyle="--", linewidth=1.6, zorder=5,
                             label="road graph extent (network times inside)")
    ax.legend(loc="upper left", fontsize=7, frameon=True)
    if report.before is not None:
        ax2 = axes[0, 1]
        delta = frame["delta_share"] * 100
        limit = max(5.0, float(np.nanmax(np.abs(delta))) if len(delta) else 5.0)
        frame.assign(delta_pct=delta).plot(
            column="delta_pct", ax=ax2, cmap="RdBu", vmin=-limit, vmax=limit, edgecolor="white", linewidth=0.3,
            legend=True, legend_kwds={"label": f"change, {report.before.label} → {report.after.label} "
                                               "(percentage points)", "shrink": 0.55,
                                      "orientation": "horizontal", "pad": 0.02},
        )
        _plot_changes(ax2, report.before.facilities, report.after.facilities, report.after.label)
        b = report.before.totals
        ax2.set_title(
            f"{report.before.label}: {b['share']:.1%} ({b['places']} places) → {report.after.label}: "
            f"{t['share']:.1%} ({t['places']} places)", fontsize=10,
        )
    for a in axes.ravel():
        a.set_axis_off()
        a.set_aspect("equal")
        _scale_bar(a)
    subtitle = f"share of each commune's population within {reach_phrase(report)} of a place that handles it"
    fig.suptitle(
        f"{report.procedure['name']} ({report.procedure['code']})\n" + textwrap.fill(subtitle, 75 * panels),
        fontsize=12,
    )
    fig.text(0.01, 0.01, textwrap.fill(caption(report), 150 * panels), fontsize=6, ha="left", va="bottom",
             color="#333333")
    if report.mode != "straight":
        fig.text(0.99, 0.045, "Roads © OpenStreetMap contributors", fontsize=8, ha="right", va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 0.94))
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:,.1f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def choropleth(
    report: CoverageReport,
    tile_url: str | None = None,
    tile_attribution: str | None = None,
    simplify_m: float = 15.0,
    assets_url: str | None = None,
) -> Any:
    """The folium map: communes coloured by share covered, places as dots, the measures in tooltips.

    ``assets_url``: where Leaflet and the other libraries are served (the web app's vendor URL, or the
    vendor folder's ``file://`` URI for an offline file); None keeps folium's CDN links.
    """
    import branca.colormap as cm
    import folium

    from geo.settings import get_settings

    settings = get_settings()
    frame = report.frame()
    metric = frame.geometry.to_crs(METRIC_CRS).simplify(simplify_m, preserve_topology=True)
    frame = frame.set_geometry(metric.to_crs(WGS84))
    frame["share_pct"] = (frame["share"] * 100).round(1)
    frame["mean_txt"] = [_fmt(v, f" {report.unit}") for v in frame["mean_cost"]]
    frame["p90_txt"] = [_fmt(v, f" {report.unit}") for v in frame["p90_cost"]]
    fields = ["full_name", "population", "share_pct", "mean_txt", "p90_txt", "served_by_name", "cost_basis"]
    aliases = ["Commune", "Population", "Covered (%)", "Mean", "90th percentile", "Served by", "Cost basis"]
    if report.before is not None:
        frame["before_pct"] = (frame["share_before"] * 100).round(1)
        frame["delta_pp"] = (frame["delta_share"] * 100).round(1)
        fields += ["before_pct", "delta_pp", "served_by_name_before"]
        aliases += [f"Covered, {report.before.label} (%)", "Change (points)", f"Served by, {report.before.label}"]
    frame = frame[[*fields, "share", "geometry"]]
    minx, miny, maxx, maxy = frame.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=10, control_scale=True,
        tiles=None,
    )
    folium.TileLayer(
        tiles=tile_url or settings.tile_url, attr=tile_attribution or settings.tile_attribution, name="map",
    ).add_to(fmap)
    colormap = cm.StepColormap(
        ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"],
        vmin=0, vmax=100, index=[0, 20, 40, 60, 80, 100],
        caption=f"Population within {reach_phrase(report)} (%)",
    )
    folium.GeoJson(
        frame.to_json(),
        name=f"coverage, {report.after.label}",
        style_function=lambda f: {
            "fillColor": colormap(min(100.0, 100 * float(f["properties"]["share"]))),
            "color": "#555555", "weight": 0.6, "fillOpacity": 0.7,
        },
        highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, localize=True),
    ).add_to(fmap)
    colormap.add_to(fmap)
    for result, color, show in ((report.after, "#c0392b", True), (report.before, "#7f8c8d", False)):
        if result is None:
            continue
        group = folium.FeatureGroup(name=f"places, {result.label} ({len(result.facilities)})", show=show)
        for place in result.facilities.itertuples():
            folium.CircleMarker(
                [place.geometry.y, place.geometry.x], radius=3, color=color, fill=True, fill_opacity=0.9,
                weight=1, tooltip=f"{place.name} [{place.kind}]",
            ).add_to(group)
        group.add_to(fmap)
    if report.sites is not None and len(report.sites.sites):
        group = folium.FeatureGroup(name="suggested new sites")
        for s in report.sites.sites:
            folium.Marker(
                [s.lat, s.lon], icon=folium.Icon(color="orange", icon="star"),
                tooltip=f"#{s.rank} {s.name}: +{s.gain_population:,} people",
            ).add_to(group)
        group.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    t = report.after.totals
    summary = f"{t['share']:.1%} of {t['population']:,} people"
    if report.before is not None:
        summary = f"{report.before.label} {report.before.totals['share']:.1%} → {report.after.label} " + summary
    title = (
        f"<div style='position:fixed;top:10px;left:50px;z-index:9999;background:white;padding:6px 10px;"
        f"border:1px solid #999;border-radius:4px;font:13px sans-serif;max-width:60%'>"
        f"<b>{escape(str(report.procedure['name']))}</b> ({escape(str(report.procedure['code']))})<br>"
        f"within {escape(reach_phrase(report))}: {escape(summary)}"
        f"<div style='font-size:10px;color:#555'>{escape(caption(report))}</div></div>"
    )
    fmap.get_root().html.add_child(folium.Element(title))  # type: ignore[attr-defined]
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    if assets_url is not None:
        from geo.offline import use_local_assets

        use_local_assets(fmap, base_url=assets_url)
    return fmap


def write_html(
    report: CoverageReport,
    path: str | Path,
    vendor_dir: str | Path | None = None,
    inline: bool = False,
    **kwargs: Any,
) -> Path:
    """The folium choropleth as an HTML file that travels (`geo.coverage.portable`).

    With ``vendor_dir`` (the vendored libraries) the page loads them from a ``vendor/`` folder copied
    beside it (relative links), or, with ``inline``, from inside the file itself. Without it the page
    links folium's CDNs (or ``assets_url``, passed on to `choropleth`).
    """
    from geo.coverage.portable import ASSETS_FOLDER, copy_assets_beside, inline_assets

    path = Path(path)
    if vendor_dir is None:
        choropleth(report, **kwargs).save(str(path))
        return path
    kwargs["assets_url"] = ASSETS_FOLDER
    html = choropleth(report, **kwargs).get_root().render()
    if inline:
        path.write_text(inline_assets(html, vendor_dir, ASSETS_FOLDER), "utf-8")
    else:
        path.write_text(html, "utf-8")
        copy_assets_beside(path, vendor_dir)
    return path


def write_outputs(
    report: CoverageReport,
    out_dir: str | Path,
    demand: Demand | None = None,
    formats: Sequence[str] = ("html", "png", "csv", "gpkg"),
    progress: Callable[[str], None] | None = None,
    vendor_dir: str | Path | None = None,
) -> dict[str, Path]:
    """Write the choropleth (HTML), static map (PNG), table (CSV) and GeoPackage; return their paths.

    ``vendor_dir``: the vendored web libraries, copied into ``out_dir/vendor`` for the HTML's relative
    links (`write_html`); None: the HTML loads its libraries from CDNs.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = output_stem(report)
    writers: dict[str, Callable[[Path], Path]] = {
        "csv": lambda p: write_csv(report, p),
        "gpkg": lambda p: write_geopackage(report, p, demand),
        "png": lambda p: write_png(report, p),
        "html": lambda p: write_html(report, p, vendor_dir=vendor_dir),
    }
    unknown = sorted(set(formats) - set(writers))
    if unknown:
        raise InvalidParameter(f"unknown output format(s) {', '.join(unknown)}; use {', '.join(writers)}")
    paths: dict[str, Path] = {}
    for fmt in formats:
        if progress:
            progress(f"writing {fmt}")
        paths[fmt] = writers[fmt](out / f"{stem}.{fmt}")
    if report.sites is not None and "csv" in formats:
        paths["sites_csv"] = out / f"{stem}_sites.csv"
        report.sites.table().to_csv(paths["sites_csv"], index=False, encoding="utf-8-sig")
    return paths


def expected_steps(mode: str, compare: str | None, scenario: bool, sites: int, formats: Sequence[str]) -> int:
    """How many progress messages `run_to_files` sends (for a progress bar)."""
    runs = 2 if (compare or scenario) else 1
    return 2 + int(mode != "straight") + runs + (4 if sites else 0) + len(formats)


def run_to_files(
    procedure: str,
    mode: str,
    threshold: float,
    out_dir: str | Path,
    compare: str | None = None,
    scenario: str | Path | None = None,
    sites: int = 0,
    grid_m: float = DEFAULT_GRID_M,
    formats: Sequence[str] = ("html", "png", "csv", "gpkg"),
    index: Index | None = None,
    network_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    vendor_dir: str | Path | None = None,
) -> tuple[CoverageReport, dict[str, Path]]:
    """Everything ``gandan coverage`` does: measure, optionally compare / edit / site, and write the files.

    With ``vendor_dir`` (the vendored web libraries) the HTML loads Leaflet & co. from a copy in
    ``out_dir/vendor`` by relative links, so the folder opens offline wherever it is moved; with None
    (not installed) it uses folium's CDN links. No ``file://`` link is ever written.

    Returns the report and the written paths (``html``, ``png``, ``csv``, ``gpkg`` and ``sites_csv``).
    """
    from geo.index import read_index
    from geo.settings import get_settings

    say = progress or (lambda _m: None)
    settings = get_settings()
    changes = read_scenario(scenario) if scenario else []
    say("index")
    index = index or read_index(settings=settings)
    folder = Path(network_dir) if network_dir is not None else settings.network_dir

    def networks(mode_name: str) -> Any:
        from geo.network import load_network

        return load_network(mode_name, folder)

    engine = CoverageEngine.from_index(index, networks=networks, grid_m=grid_m)
    report = engine.run(procedure, mode, threshold, compare=compare, changes=changes, progress=say)
    if sites:
        from geo.coverage.siting import suggest_sites

        existing = report.after.facilities
        report.sites = suggest_sites(engine, procedure, mode, threshold, sites, existing=existing, progress=say)
    paths = write_outputs(
        report, out_dir, demand=engine.demand, formats=formats, progress=say, vendor_dir=vendor_dir
    )
    return report, paths
