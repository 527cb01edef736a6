"""The built index artifact: GeoParquet layers plus a manifest, written atomically and read back.

Layout of ``build/index`` (a symbolic link to the current ``build/index-<stamp>`` folder, swapped in one
``rename`` so a reader never sees half an index and a failed build leaves the previous one serving)::

    manifest.json            schema version, build time, boundary set, source checksums, counts, notes
    communes.parquet         the boundary set's units (GeoParquet, EPSG:4326)
    legacy_units.parquet     the 526 pre-merger units (points)
    crosswalk.parquet        legacy_code → new_code with relation whole|part
    service_points.parquet   the registry with commune joined (points)
    procedures.parquet       the procedures: the reviewed rows of procedures.csv, then the national catalogue
    procedure_details.parquet  the catalogue's parsed detail pages (channels, documents, ... as JSON text)
    capabilities.parquet     point_id × procedure_code
    calendar.parquet         holiday overrides and make-up working days
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import IndexNotBuilt
from geo.settings import Settings, get_settings

__all__ = ["SCHEMA_VERSION", "Index", "read_index", "write_index"]

SCHEMA_VERSION = 2  # 2: the national catalogue (procedures layer + procedure_details)
_GEO_LAYERS = ("communes", "legacy_units", "service_points")
_TABLES = ("crosswalk", "procedures", "capabilities", "calendar", "procedure_details")
_KEEP_OLD_BUILDS = 2


@dataclass
class Index:
    """Every layer gandan queries, in memory."""

    manifest: dict[str, Any]
    communes: gpd.GeoDataFrame
    legacy_units: gpd.GeoDataFrame
    crosswalk: pd.DataFrame
    service_points: gpd.GeoDataFrame
    procedures: pd.DataFrame
    capabilities: pd.DataFrame
    calendar: pd.DataFrame
    procedure_details: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The catalogue's detail pages, one row per code (`geo.catalogue.DETAIL_COLUMNS`); empty without them."""
    path: Path | None = field(default=None)

    @property
    def boundary_set(self) -> str:
        """Id of the boundary set the index was built on."""
        return str(self.manifest.get("boundary_set", ""))


def write_index(index: Index, settings: Settings | None = None) -> Path:
    """Write ``index`` beside the current one and swap it in atomically; return the new folder.

    The new layers go to a fresh ``build/index-<stamp>`` folder; only when every file is written is the
    ``build/index`` link replaced (``os.replace`` of a link is atomic on POSIX). The previous folder
    is kept for one more build so a reader that opened it can finish.
    """
    settings = settings or get_settings()
    build_dir = settings.build_dir
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = Path(tempfile.mkdtemp(prefix=f"index-{stamp}-", dir=build_dir))
    try:
        for name in _GEO_LAYERS:
            getattr(index, name).to_parquet(target / f"{name}.parquet", index=False)
        for name in _TABLES:
            getattr(index, name).to_parquet(target / f"{name}.parquet", index=False)
        manifest = dict(index.manifest, schema_version=SCHEMA_VERSION)
        (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
        os.chmod(target, 0o755)
        link = settings.index_dir
        tmp_link = build_dir / f".index-link-{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(target.name)
        if link.exists() and not link.is_symlink():
            # An index folder from an older layout: move it aside rather than lose it.
            link.rename(build_dir / f"index-legacy-{stamp}")
        os.replace(tmp_link, link)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    _prune_old_builds(build_dir, keep=target)
    return target


def _prune_old_builds(build_dir: Path, keep: Path) -> None:
    builds = sorted(
        (p for p in build_dir.glob("index-*") if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
    )
    for old in builds[: max(0, len(builds) - (_KEEP_OLD_BUILDS - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def read_index(path: Path | None = None, settings: Settings | None = None) -> Index:
    """Read the index at ``path`` (default ``build/index``).

    Raises
    ------
    IndexNotBuilt
        When there is no index there, or it was written by an incompatible version.
    """
    settings = settings or get_settings()
    path = (path or settings.index_dir).resolve()
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise IndexNotBuilt(f"no index at {path}; run `gandan build` first")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexNotBuilt(
            f"index at {path} has schema {manifest.get('schema_version')}, expected {SCHEMA_VERSION}; "
            "run `gandan build` again"
        )
    started = time.perf_counter()
    layers: dict[str, Any] = {name: gpd.read_parquet(path / f"{name}.parquet") for name in _GEO_LAYERS}
    layers.update({name: pd.read_parquet(path / f"{name}.parquet") for name in _TABLES})
    manifest["load_seconds"] = round(time.perf_counter() - started, 3)
    return Index(manifest=manifest, path=path, **layers)
