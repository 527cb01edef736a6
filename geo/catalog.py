"""The point table both backends build from: ids, coordinates, capable rows, opening states, procedures.

A `Catalog` is what the embedded engine (`geo.finder.Finder`) and the PostGIS backend
(`geo.store.backend.PostgisBackend`) derive from one built `geo.index.Index` before they answer a query:
the service points in row order (every ``row`` of an answer indexes them), the rows that handle each
procedure, the opening states per distinct hours string (`PointStates`), the procedure lookup with its
memo, and the commune records an answer names. Building it in one place keeps the two backends'
rows, and so their answers, the same.

It also holds the service-area rule both apply: the communes' union buffered by
`SERVICE_AREA_BUFFER_M`, and `check_location`, which refuses an origin outside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import OutsideServiceArea
from geo.hours import Calendar, OpeningState, ensure_aware, opening_state
from geo.index import Index
from geo.ranking import STATE_RANK
from geo.registry import find_procedure

__all__ = [
    "COMMUNE_FIELDS",
    "PROCEDURE_MEMO_MAX",
    "SERVICE_AREA_BUFFER_M",
    "Catalog",
    "PointStates",
    "check_location",
]

SERVICE_AREA_BUFFER_M = 1_000.0
COMMUNE_FIELDS = ("code", "name", "full_name", "kind")  # what an answer says about a commune
PROCEDURE_MEMO_MAX = 10_000  # names typed by users are remembered up to this many
_NO_ROWS = np.empty(0, dtype=np.int64)
_NO_ROWS.setflags(write=False)


class PointStates:
    """Opening states of a fixed list of points, evaluated once per distinct hours string.

    Parameters
    ----------
    hours
        The ``opening_hours`` of each point, in row order (blank or None: unknown).
    calendar
        Holidays and make-up working days.
    """

    def __init__(self, hours: Sequence[str | None] | pd.Series, calendar: Calendar) -> None:
        text = pd.Series(list(hours), dtype=object).fillna("").astype(str).to_numpy()
        self.values, self.key = np.unique(text, return_inverse=True)
        self.key_list: list[int] = self.key.tolist()
        self.calendar = calendar
        self._ranks_of: dict[tuple[int, ...], np.ndarray] = {}
        self._last: tuple[datetime, list[OpeningState], np.ndarray] | None = None

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """The distinct states at ``at`` and each point's class rank (`geo.ranking.STATE_RANK`).

        The state of the point at ``row`` is ``distinct[key_list[row]]``.
        """
        last = self._last
        if last is not None and last[0] == at:  # a run of queries at one time (a naive `at` never equals it)
            return last[1], last[2]
        at = ensure_aware(at)
        distinct = [opening_state(h or None, at, self.calendar) for h in self.values]
        classes = tuple(STATE_RANK[s.state] for s in distinct)
        ranks = self._ranks_of.get(classes)
        if ranks is None:  # one array per combination of classes: a handful over a year
            ranks = np.array(classes, dtype=np.int8)[self.key]
            ranks.setflags(write=False)
            self._ranks_of[classes] = ranks
        self._last = (at, distinct, ranks)
        return distinct, ranks

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """Opening state of the point at ``row``."""
        hours = self.values[self.key[row]]
        return opening_state(hours or None, ensure_aware(at), self.calendar)

    def states_of(self, rows: Sequence[int] | np.ndarray, at: datetime) -> list[OpeningState]:
        """Opening states of the points at ``rows`` only (each distinct hours string evaluated once)."""
        at = ensure_aware(at)
        seen: dict[int, OpeningState] = {}
        out = []
        for key in self.key[rows].tolist():
            state = seen.get(key)
            if state is None:
                hours = self.values[key]
                state = seen[key] = opening_state(hours or None, at, self.calendar)
            out.append(state)
        return out


def _capable_rows(capabilities: pd.DataFrame, row_of: dict[str, int]) -> dict[str, np.ndarray]:
    """Sorted rows of the points that handle each procedure code (one vectorised pass: ~50,000 pairs)."""
    rows = capabilities["point_id"].astype(str).map(row_of)
    known = rows.notna().to_numpy()
    codes = capabilities["procedure_code"].astype(str).to_numpy()[known]
    positions = rows.to_numpy()[known].astype(np.int64)
    order = np.lexsort((positions, codes))
    codes, positions = codes[order], positions[order]
    positions.setflags(write=False)
    unique, starts = np.unique(codes, return_index=True)
    ends = [*starts[1:].tolist(), len(codes)]
    return {str(code): positions[start:end] for code, start, end in zip(unique, starts.tolist(), ends, strict=True)}


def check_location(lon: float, lat: float, inside: Callable[[float, float], bool]) -> None:
    """Refuse coordinates for which ``inside(lon, lat)`` is false; say so when lat and lon look swapped.

    ``inside`` is asked only about valid WGS 84 coordinates.
    """
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise OutsideServiceArea(f"lon={lon}, lat={lat} are not finite numbers")
    if -90 <= lat <= 90 and -180 <= lon <= 180 and inside(lon, lat):
        return
    if -90 <= lon <= 90 and -180 <= lat <= 180 and inside(lat, lon):
        raise OutsideServiceArea(
            f"lat={lat}, lon={lon} is outside Hanoi, but swapped (lat={lon}, lon={lat}) it is inside: "
            "latitude and longitude look swapped",
            swapped=True,
        )
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise OutsideServiceArea(f"lat={lat}, lon={lon} are not valid WGS 84 coordinates")
    raise OutsideServiceArea(f"lat={lat}, lon={lon} is outside Hanoi (the service area)")


@dataclass(frozen=True)
class Catalog:
    """The service points of a built index, laid out for answering nearest queries.

    Attributes
    ----------
    index
        The index it was built from.
    calendar
        Holidays and make-up working days (the index's own unless given).
    points
        The service points, rows ``0..n-1``: every ``row`` of a backend and of an answer indexes them.
    ids, lon, lat
        Each point's id (``str``) and WGS 84 coordinates, by row.
    row_of
        Row of each point id.
    capable
        Sorted rows of the points that handle each procedure code (see `capable_rows`).
    states
        Opening states by row.
    procedures
        The procedure catalogue indexed by code.
    procedure_memo
        Procedure rows by the query that found them (codes up front, names as they are asked).
    commune_records
        ``code, name, full_name, kind`` of each commune, in the index's commune order.
    commune_by_code
        The same records by commune code.
    """

    index: Index
    calendar: Calendar
    points: pd.DataFrame = field(repr=False)
    ids: np.ndarray = field(repr=False)
    lon: np.ndarray = field(repr=False)
    lat: np.ndarray = field(repr=False)
    row_of: dict[str, int] = field(repr=False)
    capable: dict[str, np.ndarray] = field(repr=False)
    states: PointStates = field(repr=False)
    procedures: pd.DataFrame = field(repr=False)
    procedure_memo: dict[str, dict[str, Any]] = field(repr=False)
    commune_records: list[dict[str, Any]] = field(repr=False)
    commune_by_code: dict[str, dict[str, Any]] = field(repr=False)

    @classmethod
    def from_index(cls, index: Index, calendar: Calendar | None = None) -> Catalog:
        """The catalog of ``index`` (with ``calendar``, default the index's own)."""
        calendar = calendar or Calendar.from_frame(index.calendar)
        points = index.service_points.reset_index(drop=True)
        ids = points["id"].astype(str).to_numpy()
        row_of = {pid: i for i, pid in enumerate(ids)}
        capable = _capable_rows(index.capabilities, row_of)
        procedures = index.procedures.set_index("code", drop=False)
        communes = index.communes.reset_index(drop=True)[list(COMMUNE_FIELDS)].to_dict("records")
        return cls(
            index=index,
            calendar=calendar,
            points=points,
            ids=ids,
            lon=points.geometry.x.to_numpy(),
            lat=points.geometry.y.to_numpy(),
            row_of=row_of,
            capable=capable,
            states=PointStates(points["opening_hours"], calendar),
            procedures=procedures,
            procedure_memo={str(r["code"]): r for r in procedures.to_dict("records")},
            commune_records=communes,
            commune_by_code={str(r["code"]): r for r in communes},
        )

    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a procedure code or name (diacritics optional); raises UnknownProcedure."""
        # Codes and names already asked come from a bounded memo: the catalog search ranks every
        # procedure by fuzzy score.
        key = query.strip()
        found = self.procedure_memo.get(key)
        if found is None:
            found = dict(find_procedure(key, self.index.procedures))
            if len(self.procedure_memo) < PROCEDURE_MEMO_MAX:
                self.procedure_memo[key] = found
        return found

    def capable_rows(self, code: str) -> np.ndarray:
        """Rows of the service points that handle procedure ``code`` (read-only; empty when none)."""
        return self.capable.get(code, _NO_ROWS)
