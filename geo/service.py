"""The query service shared by the HTTP API, the CLI, the chatbot lookup and the MCP tools.

It holds one `Backend` (the embedded `Finder`, or `geo.store.backend.PostgisBackend`), re-ranks by
travel time on the road network when a mode asks for it (`geo.ranking.rank_by_network`), answers the
lookups every surface needs (procedures, communes, points, locate, health), and turns results into the
GeoJSON contract of ``/v1/nearest`` (see README.md). Surfaces ask the service, never the backend.
Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.changes import Change
from geo.errors import InvalidParameter, InvalidQuery, NotFound
from geo.geodesy import GEODESIC_OVER_PROJECTED_MIN, TO_METRIC, geodesic_m, to_metric
from geo.hours import LOOKAHEAD_DAYS, Calendar, OpeningState, hours_of_day
from geo.index import Index
from geo.live import FixedSource, IndexLinkSource, Live, LiveState, PostgisSource
from geo.messages import Message, distance_text, message
from geo.modes import ROAD_MODES, TRAVEL_MODES
from geo.procedure_info import ProcedureInfo
from geo.procedure_search import ProcedureSearch
from geo.ranking import OPEN_RANK, STATE_RANK, NearestResult, earliest_reopening, rank_by_network
from geo.settings import Settings, get_settings
from geo.text import fold

__all__ = [
    "LAYERS",
    "MAX_PROCEDURE_QUERY",
    "Backend",
    "Service",
    "commune_record",
    "geometry_json",
    "get_service",
    "iso",
    "procedure_record",
    "round_coord",
]

MAX_PROCEDURE_QUERY = 200  # characters of a procedure search: longer is no name anyone types
LAYERS = ("service_points", "communes", "legacy_units")  # the index layers the service hands out whole
COORD_DECIMALS = 7  # RFC 7946 advises no more than needed; 7 decimals is about 1 cm
# A nearer place that a staff change (closure, special hours, procedure unavailable) keeps out of an answer is
# named in a note (at most two: the nearest ones).
_MAX_KEPT_NOTES = 2
_INSTANT = timedelta(seconds=1)  # a change applies at a moment when it overlaps [moment, moment + 1 s)


@dataclass(frozen=True)
class _Keeping:
    """The changes of one live state that can keep a place out of the answers for one procedure.

    With their places' rows and UTM x, y, and when the first of them starts and the last ends (epoch
    seconds; infinite when open-ended), so a query at another time leaves at once.
    """

    changes: tuple[Change, ...]
    rows: np.ndarray
    x: np.ndarray
    y: np.ndarray
    first_start: float
    last_end: float


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
    def bbox(self) -> tuple[float, float, float, float]:
        """The communes' bounds (min lon, min lat, max lon, max lat)."""
        ...

    def nearest(
        self, lon: float, lat: float, procedure: str, at: datetime, k: int = 3, open_only: bool = False
    ) -> NearestResult:
        """The ``k`` best straight-line places for ``procedure`` from (lon, lat) at ``at``."""
        ...

    def procedure(self, query: str) -> dict[str, Any]:
        """The catalogue row of a procedure code or name; raises `UnknownProcedure`."""
        ...

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The commune covering the point, or None."""
        ...

    def check_location(self, lon: float, lat: float) -> None:
        """Refuse a point outside the service area (saying when lat and lon look swapped)."""
        ...

    def capable_rows(self, code: str) -> np.ndarray:
        """Rows of the points that handle procedure ``code``."""
        ...

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """The distinct opening states at ``at`` and each point's class rank."""
        ...

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """The opening state of the point at ``row``."""
        ...

    def health(self) -> dict[str, str]:
        """The state of each part the backend depends on (``ok`` or ``down: …``)."""
        ...


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


# The live state a request started with (`Service.pin`): one request never mixes two states.
_PINNED: ContextVar[LiveState | None] = ContextVar("gandan_pinned_state", default=None)


class Service:
    """The one query facade: nearest places (with network travel time), lookups, and their JSON forms.

    Every delivery surface asks the service, never its backend directly. The backend is the current
    `geo.live.LiveState`'s (swapped when a new index is built or staff change something); a surface that
    makes several calls for one answer pins the state first (`pin`).

    Parameters
    ----------
    backend
        A fixed backend (tests, tools); or give ``live``.
    settings
        Default: the process's.
    live
        The live state to serve (see `geo.live.Live`); default: a fixed one on ``backend``.
    staff
        The staff store (`geo.store.staff`), when staff may change things (its changes are laid over
        ``backend`` when ``live`` is not given).
    """

    def __init__(
        self,
        backend: Backend | None = None,
        settings: Settings | None = None,
        *,
        live: Live | None = None,
        staff: Any = None,
    ) -> None:
        self.settings = settings or get_settings()
        if live is None:
            if backend is None:
                raise ValueError("give a backend or a live state")
            live = Live(FixedSource(backend), staff, poll_s=self.settings.live_poll_s)
        self.live = live
        self.staff: Any = staff if staff is not None else live.staff  # a `geo.store.staff.StaffStore`, or None
        # read on every request (`app.dependencies.call_backend`): a plain attribute; the kind never changes
        self.does_io = live.state.backend.does_io
        self._networks: dict[str, Any] = {}
        # (points table, records, places) as one tuple: swapped whole, like the live state.
        self._records_cache: tuple[pd.DataFrame | None, list[dict[str, Any]], list[tuple[str, float, float]]] = (
            None,
            [],
            [],
        )
        self._keeping_cache: tuple[LiveState, dict[str, int], dict[str, _Keeping]] | None = None
        self._procedure_tools: tuple[pd.DataFrame, ProcedureSearch, ProcedureInfo, list[dict[str, Any]]] | None = None
        self.procedure_tools()  # the search index is built at start, never on a request

    # ----------------------------------------------------------------- live state
    @property
    def state(self) -> LiveState:
        """The live state this request works on (the pinned one, else the current one)."""
        return _PINNED.get() or self.live.state

    @property
    def backend(self) -> Backend:
        """The backend of `state`."""
        return (_PINNED.get() or self.live.state).backend

    def pin(self) -> Token[LiveState | None]:
        """Work on the current state until `unpin`, whatever is swapped in meanwhile (per context)."""
        return _PINNED.set(self.live.state)

    def unpin(self, token: Token[LiveState | None]) -> None:
        """Back to the current state."""
        _PINNED.reset(token)

    def refresh(self) -> bool:
        """Check now for a new index or new staff changes (the polling thread does it every second)."""
        return self.live.check()

    def live_health(self) -> dict[str, Any]:
        """What `/healthz` says of the live state: index built_at, change-log version, orphans, last error."""
        state = self.state
        from geo.live import orphan_report

        return {
            "built_at": state.built_at,
            "index_stamp": state.stamp,
            "changes_version": state.version,
            "active_changes": len(state.changes),
            "orphaned_changes": orphan_report(state.orphans),
            "refresh_error": self.live.error,
            "served_since": state.loaded_at.isoformat(timespec="seconds"),
        }

    def capable_at(self, code: str, at: datetime) -> np.ndarray:
        """Rows that take procedure ``code`` at ``at`` (staff may make it unavailable at a place for a while)."""
        backend = self.backend
        capable_at = getattr(backend, "capable_at", None)
        return backend.capable_rows(code) if capable_at is None else capable_at(code, at)

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
        built = [mode for mode in ROAD_MODES if (self.settings.network_dir / f"{mode}.npz").exists()]
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
        """The ``k`` best places for ``procedure`` from (lon, lat) at ``at`` by ``mode``.

        Never a dead end: when no capable place is open at ``at``, the result names the earliest
        reopening (``next_opening``, with a note) and, even with ``open_only``, holds the nearest places
        (closed, with their ``opens_at``) rather than nothing.
        """
        self._check_nearest(k, mode)
        result = self._ranked(lon, lat, procedure, at, k, mode, open_only, route)
        if not any(m.state.is_open for m in result.matches):  # the hot path has something open
            result = self._way_out(result, procedure, k, mode, route)
        return self._with_kept_nearer(result)

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
        """`nearest` for an event loop: awaits the backend's ``nearest_async`` (a backend that waits on I/O).

        The rare answer with nothing open takes the synchronous way out in a worker thread, so the loop never
        waits on the database.
        """
        self._check_nearest(k, mode)
        result = await self.backend.nearest_async(lon, lat, procedure, at, k=k, open_only=open_only)  # type: ignore[attr-defined]
        if mode != "straight":
            result = self._by_network(result, mode, route)
        if not any(m.state.is_open for m in result.matches):
            result = await asyncio.to_thread(self._way_out, result, procedure, k, mode, route)
        return self._with_kept_nearer(result)

    def _check_nearest(self, k: int, mode: str) -> None:
        if mode not in TRAVEL_MODES:
            raise InvalidParameter(f"mode={mode!r} is not one of {', '.join(TRAVEL_MODES)}")
        if not 1 <= k <= self.settings.max_k:
            raise InvalidParameter(f"k={k} is out of range (1..{self.settings.max_k})")

    def _with_kept_nearer(self, result: NearestResult) -> NearestResult:
        """``result`` with a note for each place nearer than its farthest match that a staff change keeps out.

        A resident who knows their usual office learns why it is not in the answer (closed, or not taking
        the procedure for now) and the reason the staff gave, instead of being sent farther without a word.
        Only places that normally handle the procedure, only changes in force at the time asked about.
        """
        code = str(result.procedure["code"])
        keeping = self._keeping(code)
        if not len(keeping.rows) or not result.matches:
            return result  # the hot path: no staff change concerns this procedure
        at = result.at
        moment = at.timestamp()
        if not (keeping.first_start < moment + _INSTANT.total_seconds() and keeping.last_end > moment):
            return result  # no change in force then
        # A plain loop: the few changes of one procedure cost less than numpy's call overhead.
        live = np.array([i for i, c in enumerate(keeping.changes) if c.applies_during(at, at + _INSTANT)], int)
        if not len(live):
            return result
        lon, lat = result.lon, result.lat
        places = self._records_and_places()[1]
        if result.mode == "straight":  # the matches' distances are geodesic already
            far = max(m.distance_m for m in result.matches)
        else:
            far = float(geodesic_m(lon, lat, *zip(*(places[m.row][1:] for m in result.matches), strict=True)).max())
        # Projected (UTM) distances never exceed the geodesic ones by more than the bound: a place whose projected
        # distance, so scaled, is beyond the farthest match is farther than it.
        x, y = TO_METRIC.transform(lon, lat)
        live = live[np.hypot(keeping.x[live] - x, keeping.y[live] - y) * GEODESIC_OVER_PROJECTED_MIN < far]
        shown = {m.id for m in result.matches}
        found: dict[int, tuple[float, Message]] = {}
        for i in live.tolist():
            change, row = keeping.changes[i], int(keeping.rows[i])
            if row in found or change.place_id in shown:
                continue
            d = float(geodesic_m(lon, lat, *places[row][1:])[0])
            if d >= far:
                continue
            if not np.isin(row, self.capable_at(code, at)):
                note = "nearer_unavailable_by_staff"
            elif not self.backend.state_of(row, at).is_open:
                note = "nearer_closed_by_staff"
            else:
                continue  # open and taking it at that time: not kept out (special hours that still cover it)
            name = self._point_records()[row]["properties"]["name"]
            said = message(
                note, name=name, reason=change.reason, distance=distance_text(d, "en"), distance_vi=distance_text(d)
            )
            found[row] = (d, said)
        nearest = sorted(found.values(), key=lambda pair: pair[0])[:_MAX_KEPT_NOTES]
        return replace(result, notes=[*result.notes, *(m for _, m in nearest)]) if nearest else result

    def _keeping(self, code: str) -> _Keeping:
        """The live state's changes that can keep a place handling ``code`` out (once per state and procedure)."""
        state = self.state
        cached = self._keeping_cache
        if cached is None or cached[0] is not state:
            row_of = {pid: row for row, (pid, _, _) in enumerate(self._records_and_places()[1])}
            cached = self._keeping_cache = (state, row_of, {})
        _, row_of, by_code = cached
        found = by_code.get(code)
        if found is None:
            # The overlay keeps the base's rows (a copy of its points): the base says who normally handles it.
            normally = set(state.base.capable_rows(code).tolist())
            changes = tuple(
                c
                for c in state.changes
                if row_of.get(c.place_id, -1) in normally
                and (
                    c.kind in ("closure", "special_hours")
                    or (c.kind == "procedure_unavailable" and c.procedure == code)
                )
            )
            places = self._records_and_places()[1]
            rows = np.array([row_of[c.place_id] for c in changes], dtype=np.int64)
            xy = to_metric([places[r][1] for r in rows], [places[r][2] for r in rows])
            found = by_code[code] = _Keeping(
                changes=changes,
                rows=rows,
                x=xy[:, 0],
                y=xy[:, 1],
                first_start=min(
                    (-math.inf if c.starts is None else c.starts.timestamp() for c in changes), default=math.inf
                ),
                last_end=max((math.inf if c.ends is None else c.ends.timestamp() for c in changes), default=-math.inf),
            )
        return found

    def _way_out(self, result: NearestResult, procedure: str, k: int, mode: str, route: bool) -> NearestResult:
        """``result`` with the earliest reopening and the nearest places, when no capable place is open."""
        backend = self.backend
        capable = self.capable_at(result.procedure["code"], result.at)
        if len(capable) == 0:
            return result
        ranks = backend.states_at(result.at)[1][capable]
        if (ranks == OPEN_RANK).any():
            return result  # open places exist (beyond the road network, say): not a dead end
        notes = list(result.notes)
        if result.open_only and not result.matches:
            shown = self._ranked(result.lon, result.lat, procedure, result.at, k, mode, False, route)
            result = replace(shown, open_only=True)
            notes = [*shown.notes, message("none_open_shown_closed")]
        records, places = self._records_and_places()  # the places' ids and coordinates, by row
        rows = [int(r) for r in capable]
        opens = [backend.state_of(r, result.at).opens_at for r in rows]
        shown_rows = [m.row for m in result.matches]
        found = earliest_reopening(result.lon, result.lat, rows, opens, places, preferred=shown_rows)
        if found is not None and (ranks == STATE_RANK["closed"]).all():
            name = records[found.row]["properties"]["name"]
            notes.insert(0, message("all_closed", at=result.at, name=name, opens_at=found.opens_at))
        elif found is None:
            notes.insert(0, message("no_reopening_known", days=LOOKAHEAD_DAYS))
        return replace(result, notes=notes, next_opening=found)

    def _ranked(
        self,
        lon: float,
        lat: float,
        procedure: str,
        at: datetime,
        k: int,
        mode: str,
        open_only: bool,
        route: bool,
    ) -> NearestResult:
        """The backend's straight-line answer, ranked again on the road network for a travel mode."""
        result = self.backend.nearest(lon, lat, procedure, at, k=k, open_only=open_only)
        return result if mode == "straight" else self._by_network(result, mode, route)

    def _by_network(self, result: NearestResult, mode: str, route: bool) -> NearestResult:
        """A straight-line result ranked again by travel time on the road network of ``mode``."""
        backend = self.backend
        places = self._records_and_places()[1]  # the places' ids and coordinates, by row
        return rank_by_network(
            result,
            self.network(mode),
            mode,
            ranks=backend.states_at(result.at)[1],
            capable=self.capable_at(result.procedure["code"], result.at),
            places=places,
            state_of=backend.state_of,
            route=route,
        )

    # ----------------------------------------------------------------- lookups
    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a procedure code or name (diacritics optional); raises UnknownProcedure."""
        return self.backend.procedure(query)

    def procedure_tools(self) -> tuple[ProcedureSearch, ProcedureInfo]:
        """The precomputed procedure search (with the synonym table) and the record maker of the index served.

        Built again only when the backend serves another procedures table (a PostGIS reload).
        """
        procedures = self.backend.index.procedures
        tools = self._procedure_tools
        if tools is None or tools[0] is not procedures:
            from geo.ask.procedure import load_procedure_synonyms

            synonyms = load_procedure_synonyms(self.settings.data_dir / "procedure_synonyms.csv")
            details = getattr(self.backend.index, "procedure_details", pd.DataFrame())
            rows = procedures.to_dict("records")
            # Search answers are copies of these: no pandas on a request.
            records = [procedure_record(row) for row in rows]
            tools = (procedures, ProcedureSearch(procedures, synonyms), ProcedureInfo(procedures, details), records)
            self._procedure_tools = tools
        return tools[1], tools[2]

    def _procedure_records(self) -> list[dict[str, Any]]:
        self.procedure_tools()
        assert self._procedure_tools is not None
        return self._procedure_tools[3]

    def procedure_detail(self, query: str) -> dict[str, Any]:
        """The full record of one procedure (by code or name): `geo.procedure_info.ProcedureInfo.record`.

        Raises
        ------
        UnknownProcedure
            No procedure has that code or name (with close matches).
        """
        row = self.backend.procedure(query)
        return self.procedure_tools()[1].record(procedure_record(row), self._capable_count(str(row["code"])))

    def procedure_summary(self, code: str) -> dict[str, Any]:
        """What to bring, how long, the fee and the online option of procedure ``code`` (see `ProcedureInfo`)."""
        return self.procedure_tools()[1].summary(self.backend.procedure(code))

    def handled_elsewhere(self, code: str) -> dict[str, Any] | None:
        """The agency and portal link of a procedure no public-service location handles; None when one does."""
        return self.procedure_tools()[1].handled_elsewhere(self.backend.procedure(code), self._capable_count(code))

    def _capable_count(self, code: str) -> int:
        return len(self.backend.capable_rows(code))

    def search_procedures(self, q: str | None, limit: int) -> list[dict[str, Any]]:
        """Procedures matching ``q``, best first: code, name, field or synonym, diacritics optional, typos forgiven.

        Each carries ``match`` (how it matched), ``matched`` (the text it matched on), ``rank`` and
        ``summary``. Without ``q`` (None), the first ``limit`` procedures (the reviewed ones first).

        Raises
        ------
        InvalidQuery
            ``q`` is given but blank, or longer than `MAX_PROCEDURE_QUERY` characters.
        """
        search, info = self.procedure_tools()
        records = self._procedure_records()
        if q is None:
            return [dict(r, handled_at=list(r["handled_at"]), summary=info.summary(r)) for r in records[:limit]]
        if not q.strip():
            raise InvalidQuery("the procedure search is empty: give a code or words of the name")
        if len(q) > MAX_PROCEDURE_QUERY:
            raise InvalidQuery(f"the procedure search has {len(q)} characters; at most {MAX_PROCEDURE_QUERY}")
        out = []
        for rank, hit in enumerate(search.search(q, limit=limit), start=1):
            record = records[hit.position]
            out.append(
                dict(record, handled_at=list(record["handled_at"]), match=hit.match, matched=hit.matched, rank=rank,
                     summary=info.summary(record))
            )  # fmt: skip
        return out

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

    def handles_in_person(self, code: str) -> bool:
        """Tell whether any place handles procedure ``code`` in person."""
        return len(self.backend.capable_rows(code)) > 0

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

        Hot path of /v1/nearest: a feature starts as shallow copies of these.
        """
        return self._records_and_places()[0]

    def _records_and_places(self) -> tuple[list[dict[str, Any]], list[tuple[str, float, float]]]:
        """`_point_records` and ``(id, lon, lat)`` by row (the coordinates as the features give them)."""
        points = self.backend.points
        cached_of, records, places = self._records_cache
        if cached_of is not points:
            records = [
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
                        **_staff_fields(p),
                    },
                }
                for _, p in points.iterrows()
            ]
            places = [(r["id"], *r["geometry"]["coordinates"]) for r in records]
            self._records_cache = (points, records, places)
        return records, places

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
            props["state_reason"] = state.reason
            props["today"] = hours_of_day(props["hours"], at, self.backend.calendar).to_json()
        return {"type": "Feature", "id": record["id"], "geometry": record["geometry"].copy(), "properties": props}

    def points_collection(self, procedure: str | None, at: datetime) -> dict[str, Any]:
        """The points that handle ``procedure`` (code or name; all when blank) as GeoJSON, with states at ``at``."""
        backend = self.backend
        if procedure and procedure.strip():
            code = backend.procedure(procedure)["code"]
            rows = [int(r) for r in self.capable_at(code, at)]
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
                "summary": self.procedure_tools()[1].summary(proc),
            },
            "notes": [note.to_json() for note in result.notes],
            "next_opening": self._next_opening_json(result),
        }
        if not features:
            elsewhere = self.procedure_tools()[1].handled_elsewhere(proc, self._capable_count(str(proc["code"])))
            if elsewhere is not None:
                collection["handled_elsewhere"] = elsewhere
        if any(m.cost_basis == "network" for m in result.matches):
            from geo.network import OSM_ATTRIBUTION

            collection["attribution"] = OSM_ATTRIBUTION
        return collection

    def _next_opening_json(self, result: NearestResult) -> dict[str, Any] | None:
        """``next_opening`` of the ``/v1/nearest`` body: the place that opens first when none is open."""
        found = result.next_opening
        if found is None:
            return None
        return {
            "id": found.id,
            "name": self._point_records()[found.row]["properties"]["name"],
            "opens_at": iso(found.opens_at),
            "distance_m": found.distance_m,
        }


def _staff_fields(point: pd.Series) -> dict[str, Any]:
    """``change_ids`` and ``notices`` of a point staff changed (nothing for the others: the contract stays)."""
    ids = point.get("change_ids")
    if not isinstance(ids, list) or not ids:
        return {}
    return {"change_ids": list(ids), "notices": list(point.get("notices") or [])}


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
    from geo.store.staff import open_staff_store

    settings = get_settings()
    staff = open_staff_store(settings)
    source = PostgisSource(settings) if settings.backend == "postgis" else IndexLinkSource(settings)
    live = Live(source, staff, poll_s=settings.live_poll_s)
    live.start()  # long-lived users (the API, MCP) follow new builds and staff changes
    return Service(settings=settings, live=live, staff=staff)
