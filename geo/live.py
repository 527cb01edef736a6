"""Live state: the backend a worker serves, rebuilt and swapped when the index or the staff changes change.

One mechanism for both kinds of news. Each worker polls, every `Settings.live_poll_s` (1 s), two cheap
stamps in a background thread:

* the index: embedded, where the ``build/index`` link points (one ``os.readlink``; `geo.index.write_index`
  swaps the link atomically); PostGIS, the ``load_id`` the load transaction writes into ``boundary_sets``
  (one indexed SELECT);
* the staff change log: its ``version()`` (one SELECT of the last sequence number).

When either moved, the thread builds the new state off the request path (reusing what did not change:
the base backend when only changes moved; on the embedded engine the commune locator and service area
too, `geo.finder.Finder`'s ``shared_from``) and swaps it in with one attribute assignment. A request
works on the state it started with (`Service.pin`), so it never sees half of two states. A failed
rebuild (a broken index, an unreachable database) keeps the previous state and is reported
(`Live.error`, ``/healthz``). The choice of polling over inotify or a signal: it works the same for a
link, a database row and a SQLite file, across worker processes and containers, and costs nothing.

With staff changes, the served backend is the base one with `geo.changes.overlay_points` laid over
its points. The embedded engine is simply rebuilt on the overlaid points. `OverlayBackend` covers what
a rebuilt point table cannot: a procedure unavailable at a place during a range (time-dependent: the
rows are left out at query time, only for that procedure and only inside the range), and, for the
PostGIS backend, the places whose hours or location differ from the database's (their ranks and
distances are worked out again in Python; the database is read-only to the API).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import geopandas as gpd
import numpy as np
import pyproj

from geo.catalog import Catalog
from geo.changes import Change, Overlay, active_changes, overlay_points
from geo.finder import Finder
from geo.hours import OpeningState, ensure_aware
from geo.ranking import (
    MAX_ENGINE_K,
    NO_CAPABLE_POINT_NOTE,
    STATE_RANK,
    NearestResult,
    Ranked,
    build_result,
    rank_key,
    top_k,
)
from geo.settings import Settings

if TYPE_CHECKING:
    from geo.service import Backend

__all__ = [
    "ChangeLog",
    "FixedSource",
    "IndexLinkSource",
    "Live",
    "LiveState",
    "OverlayBackend",
    "PostgisSource",
    "Source",
    "orphan_report",
    "overlaid_backend",
]

log = logging.getLogger(__name__)
_GEOD = pyproj.Geod(ellps="WGS84")


class ChangeLog(Protocol):
    """What the live state needs of a staff store (`geo.store.staff.SqliteStaffStore` and its PostGIS twin)."""

    def version(self) -> int:
        """A number that grows with every stored change."""
        ...

    def changes(self) -> list[Change]:
        """Every stored change, oldest first."""
        ...


class Source(Protocol):
    """Where the base backend comes from, and how to tell that a new one is there."""

    def stamp(self) -> str:
        """What identifies the base data served now (an index folder, a load id)."""
        ...

    def load(self) -> Backend:
        """The backend on the base data of `stamp`."""
        ...


@dataclass
class FixedSource:
    """A backend given once (tests, tools): its stamp never changes."""

    backend: Backend

    def stamp(self) -> str:
        """Always the same."""
        return "fixed"

    def load(self) -> Backend:
        """The backend given."""
        return self.backend


@dataclass
class IndexLinkSource:
    """The embedded engine on ``build/index``: a new build is a new target of the link."""

    settings: Settings

    def stamp(self) -> str:
        """The folder the index link points to now (the resolved path when it is not a link)."""
        link = self.settings.index_dir
        try:
            return os.readlink(link)
        except OSError:
            return str(link.resolve())

    def load(self) -> Backend:
        """A `Finder` on the index the link points to."""
        from geo.index import read_index

        return Finder(read_index(settings=self.settings))


@dataclass
class PostgisSource:
    """The PostGIS backend: a new load is a new ``load_id`` of the served boundary set."""

    settings: Settings
    _backend: Any = field(default=None, repr=False)

    def stamp(self) -> str:
        """The ``load_id`` the database holds for the boundary set served (one SELECT)."""
        import sqlalchemy as sa

        from geo.store.models import BoundarySet

        backend = self._backend
        if backend is None:
            return ""
        query = sa.select(BoundarySet.load_id).where(BoundarySet.id == backend.boundary_set)
        with backend.engine.connect() as conn:
            return str(conn.execute(query).scalar())

    def load(self) -> Backend:
        """A new `geo.store.backend.PostgisBackend` (its own pool; the previous one is closed later)."""
        from geo.store.backend import PostgisBackend

        backend = PostgisBackend.from_settings(self.settings)
        self._backend = backend
        return backend


@dataclass(frozen=True)
class LiveState:
    """One complete state a worker serves: swapped whole, never edited."""

    backend: Backend
    base: Backend
    stamp: str
    version: int
    changes: tuple[Change, ...] = ()
    orphans: tuple[Change, ...] = ()
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def built_at(self) -> str | None:
        """When the index served was built (its manifest's ``built_at``)."""
        value = self.backend.index.manifest.get("built_at")
        return None if value is None else str(value)


class Live:
    """The state a worker serves, kept current by a polling thread (see the module docstring).

    Parameters
    ----------
    source
        Where the base backend comes from.
    staff
        The staff change log laid over it (None: no staff changes).
    poll_s
        Seconds between two checks.
    """

    def __init__(self, source: Source, staff: ChangeLog | None = None, poll_s: float = 1.0) -> None:
        self.source = source
        self.staff = staff
        self.poll_s = poll_s
        self.error: str | None = None
        self.checked_at: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The stamp is read before the load (a build in between is seen at the next check); PostGIS has
        # none before its first connection.
        stamp = source.stamp()
        base = source.load()
        stamp = stamp or source.stamp()
        self.state: LiveState = self._overlaid(base, stamp)

    # ------------------------------------------------------------------ refresh
    def check(self) -> bool:
        """Rebuild and swap when the index or the change log moved; True when a new state is served.

        Never raises: a failure keeps the previous state and is kept in `error`.
        """
        with self._lock:  # one rebuild at a time per worker
            current = self.state
            try:
                stamp = self.source.stamp()
                version = self.staff.version() if self.staff is not None else 0
                self.checked_at = datetime.now(UTC)
                if stamp == current.stamp and version == current.version:
                    self.error = None  # what failed before (an unreachable database) is back: nothing is stale
                    return False
                base = current.base if stamp == current.stamp else self.source.load()
                state = self._overlaid(base, stamp)
            except Exception as exc:  # a broken build or database: keep serving what we have
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("live refresh failed; still serving %s: %s", current.stamp, self.error)
                return False
            self.state = state  # the swap: one assignment
            self.error = None
            if state.base is not current.base:
                _close_later(current.base)
            log.info("now serving index %s with change log version %s", state.stamp, state.version)
            return True

    def _overlaid(self, base: Backend, stamp: str) -> LiveState:
        if self.staff is None:
            return LiveState(backend=base, base=base, stamp=stamp, version=0)
        version = self.staff.version()
        changes = active_changes(self.staff.changes(), now=datetime.now(UTC))
        if not changes:
            return LiveState(backend=base, base=base, stamp=stamp, version=version)
        overlay = overlay_points(base.points, changes)
        return LiveState(
            backend=overlaid_backend(base, overlay),
            base=base,
            stamp=stamp,
            version=version,
            changes=tuple(changes),
            orphans=tuple(overlay.orphans),
        )

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        """Start the polling thread (idempotent); it ends with `stop` or when this object is collected."""
        if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
            return
        if isinstance(self.source, FixedSource) and self.staff is None:
            return  # nothing can change
        # Each thread has its own stop event: a thread still ending after `stop` cannot be revived, and a
        # start right after a stop (a second app on the same service) does get a poller.
        self._stop = threading.Event()
        ref = weakref.ref(self)
        stop, poll_s = self._stop, self.poll_s
        thread = threading.Thread(target=_poll, args=(ref, stop, poll_s), name="gandan-live", daemon=True)
        self._thread = thread
        thread.start()

    def stop(self) -> None:
        """Stop the polling thread."""
        self._stop.set()

    def __del__(self) -> None:
        self._stop.set()


def _poll(ref: weakref.ReferenceType[Live], stop: threading.Event, poll_s: float) -> None:
    while not stop.wait(poll_s):
        live = ref()
        if live is None:
            return
        live.check()
        del live  # hold no strong reference while waiting


def _close_later(backend: Backend, delay_s: float = 30.0) -> None:
    """Close a replaced backend's pool once requests that started on it are long done."""
    close = getattr(backend, "close", None)
    if close is not None:
        timer = threading.Timer(delay_s, close)
        timer.daemon = True
        timer.start()


# =============================================================================================== overlay
def overlaid_backend(base: Backend, overlay: Overlay) -> Backend:
    """``base`` answering with ``overlay``'s points (see the module docstring)."""
    changed = _changed_rows(base.points, overlay.points)
    if isinstance(base, Finder):
        index = replace(base.index, service_points=overlay.points)
        finder = Finder(index, base.calendar, shared_from=base)
        if not overlay.unavailable:
            return finder
        return OverlayBackend(finder, finder.catalog, overlay, stale_rows=frozenset())
    catalog = Catalog.from_index(replace(base.index, service_points=overlay.points), base.calendar)
    return OverlayBackend(base, catalog, overlay, stale_rows=frozenset(changed))


def _changed_rows(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> list[int]:
    """Rows whose hours or location the overlay changed (same row order on both sides)."""
    hours_before = before["opening_hours"].fillna("").astype(str).to_numpy()
    hours_after = after["opening_hours"].fillna("").astype(str).to_numpy()
    moved = ~np.asarray(before.geometry.geom_equals(after.geometry.set_axis(before.index)))
    return np.flatnonzero((hours_before != hours_after) | moved).tolist()


class OverlayBackend:
    """A backend answering with an overlaid point table: procedures unavailable, places re-ranked.

    ``stale_rows`` are the rows whose state or distance the base backend would get wrong (its own point
    table is the unchanged one); they are fetched over and above ``k``, dropped from its answer, and
    ranked again from the overlay. Rows of a procedure unavailable at the query time are dropped and not
    ranked again. Both cost nothing for a procedure and time they do not touch.
    """

    def __init__(self, base: Backend, catalog: Catalog, overlay: Overlay, stale_rows: frozenset[int]) -> None:
        self.base = base
        self.catalog = catalog
        self.name = base.name
        self.does_io = base.does_io
        self.index = catalog.index
        self.points = catalog.points
        self.calendar = catalog.calendar
        self.stale_rows = stale_rows
        # code -> [(row, starts, ends)]: the ranges in which the place does not take the procedure.
        self.unavailable: dict[str, list[tuple[int, datetime | None, datetime | None]]] = {}
        for (place_id, code), changes in overlay.unavailable.items():
            row = catalog.row_of.get(place_id)
            if row is not None:
                for change in changes:
                    self.unavailable.setdefault(code, []).append((row, change.starts, change.ends))
        self._capable_memo: dict[tuple[str, frozenset[int]], np.ndarray] = {}
        # The embedded engine rebuilt on the overlay numbers its rows as we do: its answers need no mapping.
        self._same_table = getattr(base, "catalog", None) is catalog

    def __getattr__(self, name: str) -> Any:  # locator, nearest_many, engine, ...: the base's
        return getattr(self.base, name)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Bounding box (lon/lat) of the communes."""
        return self.base.bbox

    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a procedure code or name."""
        return self.catalog.procedure(query)

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The base's."""
        return self.base.commune_at(lon, lat)

    def check_location(self, lon: float, lat: float) -> None:
        """The base's."""
        self.base.check_location(lon, lat)

    def health(self) -> dict[str, str]:
        """The base's."""
        return self.base.health()

    def capable_rows(self, code: str) -> np.ndarray:
        """Rows that handle ``code`` at all (`capable_at` leaves out the unavailable ones)."""
        return self.catalog.capable_rows(code)

    def unavailable_at(self, code: str, at: datetime) -> frozenset[int]:
        """Rows where ``code`` is not taken at ``at``."""
        ranges = self.unavailable.get(code)
        if not ranges:
            return frozenset()
        at = ensure_aware(at)
        return frozenset(
            row for row, starts, ends in ranges if (starts is None or starts <= at) and (ends is None or at < ends)
        )

    def capable_at(self, code: str, at: datetime) -> np.ndarray:
        """Rows that handle ``code`` at ``at`` (read-only; one array per set of rows left out)."""
        capable = self.catalog.capable_rows(code)
        out = self.unavailable_at(code, at)
        if not out:
            return capable
        key = (code, out)
        kept = self._capable_memo.get(key)
        if kept is None:
            kept = np.array([r for r in capable.tolist() if r not in out], dtype=np.int64)
            kept.setflags(write=False)
            self._capable_memo[key] = kept
        return kept

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """Opening state of every point at ``at``, from the overlaid hours."""
        return self.catalog.states.states_at(at)

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """Opening state of the point at ``row``, from the overlaid hours."""
        return self.catalog.states.state_of(row, at)

    def nearest(
        self, lon: float, lat: float, procedure: str, at: datetime, k: int = 3, open_only: bool = False
    ) -> NearestResult:
        """The base's answer, with the unavailable rows left out and the stale rows ranked again."""
        proc = self.catalog.procedure(procedure)
        code = str(proc["code"])
        at = ensure_aware(at)
        capable = self.catalog.capable_rows(code)
        out = self.unavailable_at(code, at)
        stale = [r for r in capable.tolist() if r in self.stale_rows] if self.stale_rows else []
        if not out and not stale:
            result = self.base.nearest(lon, lat, procedure, at, k=k, open_only=open_only)
            return result if self._same_table else self._same_rows(result)
        if not stale:
            # Only rows left out: the base ranks the others exactly; ask for as many more as are left out.
            result = self.base.nearest(lon, lat, procedure, at, k=min(k + len(out), MAX_ENGINE_K), open_only=open_only)
            if not self._same_table:
                result = self._same_rows(result)
            result.matches = [m for m in result.matches if m.row not in out][:k]
            result.k = k
            if len(capable) == len(out) and NO_CAPABLE_POINT_NOTE not in result.notes:
                result.notes = [NO_CAPABLE_POINT_NOTE, *result.notes]
            return result
        touched = out.union(stale)
        extra = len(touched)
        result = self.base.nearest(lon, lat, procedure, at, k=min(k + extra, MAX_ENGINE_K), open_only=open_only)
        row_of, catalog = self.catalog.row_of, self.catalog
        rows = [row_of[m.id] for m in result.matches if m.id in row_of and row_of[m.id] not in touched]
        rows += [r for r in stale if r not in out]
        ranked: list[Ranked] = []
        for row, state in zip(rows, catalog.states.states_of(rows, at), strict=True):
            if open_only and not state.is_open:
                continue
            distance = float(_GEOD.inv(lon, lat, catalog.lon[row], catalog.lat[row])[2])
            ranked.append((rank_key(STATE_RANK[state.state], distance, str(catalog.ids[row])), row, distance))
        ranked = top_k(ranked, k, open_only=False)  # open_only is applied above, row by row
        return build_result(
            lon=lon,
            lat=lat,
            at=at,
            k=k,
            open_only=open_only,
            procedure=proc,
            ranked=ranked,
            states=catalog.states.states_of([row for _, row, _ in ranked], at),
            capable_count=len(capable) - len(out),
            origin_commune=result.origin_commune,
        )

    def _same_rows(self, result: NearestResult) -> NearestResult:
        """The base's answer with its rows mapped to ours (a reloaded database may number them anew)."""
        row_of = self.catalog.row_of
        result.matches = [replace(m, row=row_of[m.id]) for m in result.matches if m.id in row_of]
        return result


def orphan_report(orphans: Sequence[Change]) -> list[dict[str, Any]]:
    """The changes whose place the index no longer has, as JSON-ready records."""
    return [{"change_id": c.id, "kind": c.kind, "place_id": c.place_id, "reason": c.reason} for c in orphans]
