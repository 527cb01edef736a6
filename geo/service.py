"""The query service shared by the HTTP API, the CLI, the chatbot lookup and the MCP tools.

It holds one backend (the embedded `Finder`, or the PostGIS store with the same interface), adds travel
time on the road network when a mode asks for it, and turns results into the GeoJSON contract of
``/v1/nearest`` (see DESIGN.md). Nothing here knows about HTTP.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyproj

from geo.errors import InvalidParameter
from geo.finder import STATE_RANK, Finder, Match, NearestResult
from geo.hours import OpeningState, hours_of_day
from geo.index import Index
from geo.settings import Settings, get_settings

__all__ = ["MODES", "Backend", "Service", "commune_record", "geometry_json", "get_service", "iso", "round_coord"]

MODES = ("straight", "walk", "motorbike", "car")
_GEOD = pyproj.Geod(ellps="WGS84")
COORD_DECIMALS = 7  # RFC 7946 advises no more than needed; 7 decimals is about 1 cm


class Backend(Protocol):
    """What the service needs from a backend: the embedded engine and PostGIS both provide it."""

    points: pd.DataFrame
    index: Index

    def nearest(
        self, lon: float, lat: float, procedure: str, at: datetime, k: int = 3, open_only: bool = False
    ) -> NearestResult: ...

    def procedure(self, query: str) -> dict[str, Any]: ...

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None: ...

    def check_location(self, lon: float, lat: float) -> None: ...

    def capable_rows(self, code: str) -> np.ndarray: ...

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]: ...

    def state_of(self, row: int, at: datetime) -> OpeningState: ...


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset, to the minute when seconds are zero."""
    if value is None:
        return None
    return _iso(value, value.utcoffset())


# The same few opening and closing times recur in every answer of a day. The offset is part of the key:
# equal datetimes in two zones are one key to a cache, but print differently.
@lru_cache(maxsize=4096)
def _iso(value: datetime, offset: timedelta | None) -> str:
    return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")


def round_coord(value: float) -> float:
    """A coordinate rounded for GeoJSON output."""
    return round(float(value), COORD_DECIMALS)


def geometry_json(geometry: Any) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON geometry with rounded coordinates."""
    raw = geometry.__geo_interface__

    def walk(c: Any) -> Any:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round_coord(v) for v in c]
        return [walk(x) for x in c]

    return {"type": raw["type"], "coordinates": walk(raw["coordinates"])}


def commune_record(row: pd.Series) -> dict[str, Any]:
    """A commune row as plain JSON-ready fields (no geometry)."""
    pop = row.get("population")
    area = row.get("area_km2")
    return {
        "code": str(row["code"]),
        "name": str(row["name"]),
        "full_name": str(row["full_name"]),
        "kind": str(row["kind"]),
        "population": None if pd.isna(pop) else int(pop),
        "area_km2": None if pd.isna(area) else float(area),
        "seat_address": row.get("seat_address"),
        "former_units": row.get("former_units"),
    }


class Service:
    """Nearest queries with optional network travel time, and their GeoJSON form."""

    def __init__(self, backend: Backend, settings: Settings | None = None) -> None:
        self.backend = backend
        self.settings = settings or get_settings()
        self._networks: dict[str, Any] = {}
        self._records: list[dict[str, Any]] = []
        self._records_of: pd.DataFrame | None = None

    # ----------------------------------------------------------------- network
    def network(self, mode: str) -> Any:
        """The road network of ``mode``, loaded once (raises when it has not been built)."""
        if mode not in self._networks:
            from geo.network import load_network

            self._networks[mode] = load_network(
                mode,
                self.settings.network_dir,
                max_snap_m=self.settings.network_max_snap_m,
                cache_size=self.settings.network_cache_size,
            )
        return self._networks[mode]

    def load_networks(self) -> list[str]:
        """Load every travel mode whose graph has been built (at start-up, so no request pays for it)."""
        from geo.network import MODES

        built = [mode for mode in MODES if (self.settings.network_dir / f"{mode}.npz").exists()]
        for mode in built:
            self.network(mode)
        return built

    # ----------------------------------------------------------------- nearest
    def nearest(
        self,
        lon: float,
        lat: float,
        procedure: str,
        at: datetime,
        k: int = 3,
        mode: str = "straight",
        open_only: bool = False,
        route: bool = False,
    ) -> NearestResult:
        """The ``k`` best places for ``procedure`` from (lon, lat) at ``at`` by ``mode``."""
        if mode not in MODES:
            raise InvalidParameter(f"mode={mode!r} is not one of {', '.join(MODES)}")
        if not 1 <= k <= self.settings.max_k:
            raise InvalidParameter(f"k={k} is out of range (1..{self.settings.max_k})")
        result = self.backend.nearest(lon, lat, procedure, at, k=k, open_only=open_only)
        if mode == "straight":
            return result
        return self._by_network(result, mode, route)

    def _by_network(self, straight: NearestResult, mode: str, route: bool) -> NearestResult:
        from geo.network import Candidate

        network = self.network(mode)
        backend = self.backend
        _, ranks = backend.states_at(straight.at)
        capable = backend.capable_rows(straight.procedure["code"])
        records = self._point_records()
        matches: list[Match] = []
        notes = list(straight.notes)
        # Open first, then unknown, then closed: each class is ranked by travel time in turn.
        for rank in sorted(set(STATE_RANK.values())):
            if straight.open_only and rank != STATE_RANK["open"]:
                break
            rows = capable[ranks[capable] == rank]
            if len(rows) == 0:
                continue
            row_of = {records[r]["id"]: r for r in rows.tolist()}
            candidates = {
                pid: Candidate(pid, *records[r]["geometry"]["coordinates"]) for pid, r in row_of.items()
            }
            found = network.nearest(
                straight.lon, straight.lat, list(candidates.values()), k=straight.k - len(matches), route=route
            )
            if found is None:
                notes.append(f"the origin is beyond the {mode} road network; distances are straight-line")
                return NearestResult(**{**straight.__dict__, "mode": mode, "notes": notes})
            reach = max((hit.distance_m for hit in found), default=float("inf"))
            # Only places that could have beaten the answer are worth a note: nearer by air than the last pick by road.
            skipped = [
                pid
                for pid in getattr(found, "off_graph_ids", []) or []
                if _GEOD.inv(straight.lon, straight.lat, candidates[pid].lon, candidates[pid].lat)[2] < reach
            ]
            if skipped:
                notes.append(
                    f"{len(skipped)} nearby place(s) lie beyond the {mode} road network and are not ranked by "
                    f"travel time: {', '.join(sorted(skipped)[:5])}"
                )
            for hit in found:
                r = row_of[hit.id]
                matches.append(
                    Match(
                        row=r,
                        id=hit.id,
                        distance_m=round(float(hit.distance_m), 1),
                        state=backend.state_of(r, straight.at),
                        travel_time_s=round(float(hit.travel_time_s), 1),
                        cost_basis="network",
                        route=hit.route,
                    )
                )
            if len(matches) >= straight.k:
                break
        return NearestResult(**{**straight.__dict__, "mode": mode, "matches": matches, "notes": notes})

    def locate(self, lon: float, lat: float) -> dict[str, Any]:
        """The commune at a point and the pre-merger units it was formed from, with the likely one."""
        service = self
        backend = service.backend
        backend.check_location(lon, lat)
        found = backend.commune_at(lon, lat)
        index = backend.index
        if found is None:
            return {"lat": lat, "lon": lon, "commune": None, "former_units": [], "likely_former_unit": None}
        row = index.communes[index.communes["code"] == found["code"]].iloc[0]
        pairs = index.crosswalk[index.crosswalk["new_code"] == found["code"]]
        legacy = index.legacy_units.set_index("code")
        former = []
        for pair in pairs.itertuples():
            unit = legacy.loc[pair.legacy_code] if pair.legacy_code in legacy.index else None
            former.append(
                {
                    "code": pair.legacy_code,
                    "name": pair.legacy_full_name,
                    "district": pair.legacy_district,
                    "relation": pair.relation,
                    "lon": None if unit is None else round_coord(unit.geometry.x),
                    "lat": None if unit is None else round_coord(unit.geometry.y),
                }
            )
        likely = None
        with_points = [f for f in former if f["lon"] is not None]
        if with_points:
            # Legacy units are points (their former office), not polygons: the nearest is a guess, said so.
            nearest_unit = min(with_points, key=lambda f: (f["lon"] - lon) ** 2 + (f["lat"] - lat) ** 2)
            likely = dict(
                nearest_unit,
                precision="approximate",
                method="nearest former unit point within the commune (no pre-merger polygons)",
            )
        return {
            "lat": lat,
            "lon": lon,
            "commune": commune_record(row),
            "former_units": former,
            "likely_former_unit": likely,
        }

    # ----------------------------------------------------------------- GeoJSON
    def _point_records(self) -> list[dict[str, Any]]:
        """``id``, ``geometry`` and registry ``properties`` of every point, built once per points table.

        Hot path of /v1/nearest: a feature starts as shallow copies of these.
        """
        points = self.backend.points
        if self._records_of is not points:
            self._records = [
                {
                    "id": str(p["id"]),
                    "geometry": geometry_json(p.geometry),
                    "properties": {
                        "id": str(p["id"]),
                        "kind": str(p["kind"]),
                        "name": str(p["name"]),
                        "address": str(p["address"]),
                        "commune": {"code": p.get("commune_code"), "name": p.get("commune_name")},
                        "hours": p.get("opening_hours") or None,
                        "hours_source": p.get("hours_source"),
                        "location_precision": str(p["location_precision"]),
                        "location_method": str(p["location_method"]),
                        "source": p.get("source"),
                    },
                }
                for _, p in points.iterrows()
            ]
            self._records_of = points
        return self._records

    def point_feature(self, row: int, at: datetime | None = None, state: OpeningState | None = None) -> dict[str, Any]:
        """A service point as a GeoJSON Feature with its registry fields (and ``state``, or its state at ``at``)."""
        record = self._point_records()[row]
        props = record["properties"].copy()
        props["commune"] = props["commune"].copy()
        if at is not None:
            state = state or self.backend.state_of(row, at)
            props["state"] = state.state
            props["opens_at"] = iso(state.opens_at)
            props["closes_at"] = iso(state.closes_at)
            props["today"] = hours_of_day(props["hours"], at, getattr(self.backend, "calendar", None)).to_json()
        return {"type": "Feature", "id": record["id"], "geometry": record["geometry"].copy(), "properties": props}

    def to_feature_collection(self, result: NearestResult) -> dict[str, Any]:
        """The ``/v1/nearest`` GeoJSON FeatureCollection for a result, features in rank order."""
        proc = result.procedure
        features = []
        for rank, match in enumerate(result.matches, start=1):
            feature = self.point_feature(match.row, result.at, match.state)
            props = feature["properties"]
            props.update(
                rank=rank,
                distance_m=match.distance_m,
                travel_time_s=match.travel_time_s,
                cost_basis=match.cost_basis,
                state_reason=match.state.reason,
                qualifies=_qualifies(proc["code"], proc["name"], proc.get("boundary_free"), props["kind"]),
            )
            if match.route is not None:
                feature["geometry"] = {
                    "type": "GeometryCollection",
                    "geometries": [
                        feature["geometry"],
                        {
                            "type": "LineString",
                            "coordinates": [[round_coord(x), round_coord(y)] for x, y in match.route],
                        },
                    ],
                }
            features.append(feature)
        collection: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": features,
            "query": {
                "lat": result.lat,
                "lon": result.lon,
                "at": iso(result.at),
                "k": result.k,
                "mode": result.mode,
                "open_only": result.open_only,
                "commune": result.origin_commune,
            },
            "procedure": {
                "code": proc["code"],
                "name": proc["name"],
                "level": proc.get("level"),
                "boundary_free": proc.get("boundary_free"),
                "handled_at": proc.get("handled_at"),
            },
            "notes": result.notes,
        }
        if any(m.cost_basis == "network" for m in result.matches):
            from geo.network import OSM_ATTRIBUTION

            collection["attribution"] = OSM_ATTRIBUTION
        return collection


@lru_cache(maxsize=4096)
def _qualifies(code: str, name: str, boundary_free: Any, kind: str) -> str:
    free = str(boundary_free or "").lower()
    reason = f"handles {code} ({name}) at a {kind.replace('_', ' ')}"
    if free in ("yes", "pilot"):
        reason += "; boundary-free in Hanoi: any such location accepts it, whatever your residence"
    return reason


@lru_cache(maxsize=1)
def get_service() -> Service:
    """The process-wide service on the configured backend."""
    settings = get_settings()
    if settings.backend == "postgis":
        from geo.store.postgis import PostgisBackend

        return Service(PostgisBackend.from_settings(settings), settings)
    from geo.index import read_index

    return Service(Finder(read_index(settings=settings)), settings)
