"""The query service shared by the HTTP API, the CLI, the chatbot lookup and the MCP tools.

It holds one `Backend` (the embedded `Finder`, or `geo.store.backend.PostgisBackend`), re-ranks by
travel time on the road network when a mode asks for it (`geo.ranking.rank_by_network`), answers the
lookups every surface needs (procedures, communes, points, locate, health), and turns results into the
GeoJSON contract of ``/v1/nearest`` (see README.md). Surfaces ask the service, never the backend.
Nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import InvalidParameter, NotFound
from geo.finder import Finder
from geo.hours import Calendar, OpeningState, hours_of_day
from geo.index import Index
from geo.ranking import NearestResult, rank_by_network
from geo.registry import search_procedures
from geo.settings import Settings, get_settings
from geo.text import fold

__all__ = [
    "LAYERS",
    "MODES",
    "Backend",
    "Service",
    "commune_record",
    "geometry_json",
    "get_service",
    "iso",
    "procedure_record",
    "round_coord",
]

MODES = ("straight", "walk", "motorbike", "car")
LAYERS = ("service_points", "communes", "legacy_units")  # the index layers the service hands out whole
COORD_DECIMALS = 7  # RFC 7946 advises no more than needed; 7 decimals is about 1 cm


class Backend(Protocol):
    """What the service needs from a backend: the embedded `Finder` and `PostgisBackend` both provide it.

    ``points`` are in the row order every ``row`` refers to (`capable_rows`, `state_of`, `Match.row`).
    """

    name: str  # "embedded" or "postgis", as /healthz reports it
    does_io: bool  # queries wait on I/O: the API runs them in its thread pool
    index: Index
    points: pd.DataFrame
    calendar: Calendar

    @property
    def bbox(self) -> tuple[float, float, float, float]: ...

    def nearest(
        self, lon: float, lat: float, procedure: str, at: datetime, k: int = 3, open_only: bool = False
    ) -> NearestResult: ...

    def procedure(self, query: str) -> dict[str, Any]: ...

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None: ...

    def check_location(self, lon: float, lat: float) -> None: ...

    def capable_rows(self, code: str) -> np.ndarray: ...

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]: ...

    def state_of(self, row: int, at: datetime) -> OpeningState: ...

    def health(self) -> dict[str, str]: ...


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


def procedure_record(row: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    """A procedure row as plain JSON-ready fields, ``handled_at`` as a list (no search ``score``)."""
    handled = [h for h in str(row.get("handled_at") or "").split("|") if h]
    out = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items() if k != "score"}
    out.update(code=str(row["code"]), handled_at=handled, handled_in_person_here=bool(handled))
    return out


class Service:
    """The one query facade: nearest places (with network travel time), lookups, and their JSON forms.

    Every delivery surface asks the service, never its backend directly.
    """

    def __init__(self, backend: Backend, settings: Settings | None = None) -> None:
        self.backend = backend
        self.settings = settings or get_settings()
        self.does_io = backend.does_io  # read on every request (`app.dependencies.call_backend`): a plain attribute
        self._networks: dict[str, Any] = {}
        self._records: list[dict[str, Any]] = []
        self._places: list[tuple[str, float, float]] = []
        self._records_of: pd.DataFrame | None = None

    # ----------------------------------------------------------------- backend
    @property
    def name(self) -> str:
        """The backend's name (``embedded`` or ``postgis``)."""
        return self.backend.name

    @property
    def index(self) -> Index:
        """The index served (for PostGIS: as read from the database at the last load)."""
        return self.backend.index

    @property
    def calendar(self) -> Calendar:
        """Holidays and make-up working days of the index served."""
        return self.backend.calendar

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Bounding box (lon/lat) of the communes."""
        return self.backend.bbox

    def health(self) -> dict[str, str]:
        """The state of each part: ``{"index": "ok"}`` and the backend's own (``{"database": ...}``)."""
        return {"index": "ok", **self.backend.health()}

    async def health_async(self) -> dict[str, str]:
        """`health` for an event loop: awaits the backend's ``health_async`` (a backend that waits on I/O)."""
        return {"index": "ok", **await self.backend.health_async()}  # type: ignore[attr-defined]

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """One of the index's public `LAYERS` (service points, communes, pre-merger units), whole."""
        index = self.backend.index
        layers = {
            "service_points": index.service_points,
            "communes": index.communes,
            "legacy_units": index.legacy_units,
        }
        if name not in layers:
            raise NotFound(f"no layer {name!r}; known: {', '.join(LAYERS)}")
        return layers[name]

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
        self._check_nearest(k, mode)
        result = self.backend.nearest(lon, lat, procedure, at, k=k, open_only=open_only)
        return result if mode == "straight" else self._by_network(result, mode, route)

    async def nearest_async(
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
        """`nearest` for an event loop: awaits the backend's ``nearest_async`` (a backend that waits on I/O)."""
        self._check_nearest(k, mode)
        result = await self.backend.nearest_async(lon, lat, procedure, at, k=k, open_only=open_only)  # type: ignore[attr-defined]
        return result if mode == "straight" else self._by_network(result, mode, route)

    def _check_nearest(self, k: int, mode: str) -> None:
        if mode not in MODES:
            raise InvalidParameter(f"mode={mode!r} is not one of {', '.join(MODES)}")
        if not 1 <= k <= self.settings.max_k:
            raise InvalidParameter(f"k={k} is out of range (1..{self.settings.max_k})")

    def _by_network(self, result: NearestResult, mode: str, route: bool) -> NearestResult:
        """A straight-line result ranked again by travel time on the road network of ``mode``."""
        backend = self.backend
        self._point_records()  # the places' ids and coordinates, by row
        return rank_by_network(
            result,
            self.network(mode),
            mode,
            ranks=backend.states_at(result.at)[1],
            capable=backend.capable_rows(result.procedure["code"]),
            places=self._places,
            state_of=backend.state_of,
            route=route,
        )

    # ----------------------------------------------------------------- lookups
    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a procedure code or name (diacritics optional); raises UnknownProcedure."""
        return self.backend.procedure(query)

    def procedure_detail(self, query: str) -> dict[str, Any]:
        """One procedure (by code or name) as `procedure_record` gives it; raises UnknownProcedure."""
        return procedure_record(self.backend.procedure(query))

    def search_procedures(self, q: str | None, limit: int) -> list[dict[str, Any]]:
        """Procedures matching ``q`` (code or words of the name, diacritics optional; all when blank), best first."""
        catalog = self.backend.index.procedures
        found = search_procedures(q, catalog, limit=limit) if q and q.strip() else catalog.head(limit)
        return [procedure_record(row) for _, row in found.iterrows()]

    def search_communes(self, q: str | None, limit: int) -> list[dict[str, Any]]:
        """Communes whose name contains ``q`` (diacritics optional) or whose code is ``q``; all when blank."""
        frame = self.backend.index.communes
        if q and q.strip():
            key = fold(q)
            frame = frame[frame["name_ascii"].str.contains(key, regex=False) | (frame["code"] == q.strip())]
        return [commune_record(row) for _, row in frame.head(limit).iterrows()]

    def commune_feature(self, code: str) -> dict[str, Any]:
        """One commune as a GeoJSON Feature with its polygon; raises NotFound."""
        index = self.backend.index
        frame = index.communes
        hit = frame[frame["code"] == code]
        if hit.empty:
            raise NotFound(f"no commune with code {code!r} in boundary set {index.boundary_set}")
        return {
            "type": "Feature",
            "id": code,
            "geometry": geometry_json(hit.geometry.iloc[0]),
            "properties": commune_record(hit.iloc[0]),
        }

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The commune (code, name, full_name, kind) that covers the point, or None."""
        return self.backend.commune_at(lon, lat)

    def check_location(self, lon: float, lat: float) -> None:
        """Refuse coordinates outside Hanoi; say so when lat and lon look swapped."""
        self.backend.check_location(lon, lat)

    def locate(self, lon: float, lat: float) -> dict[str, Any]:
        """The commune at a point and the pre-merger units it was formed from, with the likely one."""
        backend = self.backend
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

        Hot path of /v1/nearest: a feature starts as shallow copies of these. `_places` is built beside
        them: ``(id, lon, lat)`` by row, the coordinates as the features give them.
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
            self._places = [(r["id"], *r["geometry"]["coordinates"]) for r in self._records]
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
            props["today"] = hours_of_day(props["hours"], at, self.backend.calendar).to_json()
        return {"type": "Feature", "id": record["id"], "geometry": record["geometry"].copy(), "properties": props}

    def points_collection(self, procedure: str | None, at: datetime) -> dict[str, Any]:
        """The points that handle ``procedure`` (code or name; all when blank) as GeoJSON, with states at ``at``."""
        backend = self.backend
        if procedure and procedure.strip():
            code = backend.procedure(procedure)["code"]
            rows = [int(r) for r in backend.capable_rows(code)]
        else:
            code = None
            rows = list(range(len(backend.points)))
        return {
            "type": "FeatureCollection",
            "features": [self.point_feature(row, at=at) for row in rows],
            "at": iso(at),
            "procedure": code,
        }

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
