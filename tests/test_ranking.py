"""The ranking rule: the key, the vectorised key, the exact stop, and the re-rank by travel time."""

from __future__ import annotations

import itertools
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.hours import TZ, OpeningState
from geo.network import NetworkAnswer, NetworkResult
from geo.ranking import (
    GEODESIC_OVER_PROJECTED_MIN,
    NO_CAPABLE_POINT_NOTE,
    STATE_RANK,
    Candidates,
    NearestResult,
    Ranked,
    build_result,
    rank_by_network,
    rank_key,
    rank_nearest,
    rank_order,
    settles,
    top_k,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
OPEN, UNKNOWN, CLOSED = (OpeningState(s) for s in ("open", "unknown", "closed"))


def entry(rank: int, d: float, pid: str, row: int = 0) -> Ranked:
    return (rank_key(rank, d, pid), row, d)


# ----------------------------------------------------------------------------------- the key
def test_classes_are_open_unknown_closed() -> None:
    assert sorted(STATE_RANK, key=STATE_RANK.__getitem__) == ["open", "unknown", "closed"]


def test_key_rounds_to_the_centimetre_as_numpy_does() -> None:
    # 0.125 m is exactly a half centimetre: half to even gives 0.12 (Python's round(0.125, 2) also
    # does here, but not for every half: numpy's d*100 rounding is the one both forms share).
    for d in (0.125, 0.135, 1234.565, 2.675, 1e-9, 9_999.994999):
        assert rank_key(0, d, "x")[1] == float(np.round(d, 2))
    assert rank_key(1, 10.004, "a") == rank_key(1, 9.996, "a")  # one key for one centimetre


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.floats(0, 50_000, allow_nan=False), st.sampled_from("abcdef")),
        min_size=1,
        max_size=30,
    )
)
def test_rank_order_sorts_like_rank_key(rows: list[tuple[int, float, str]]) -> None:
    ranks = np.array([r for r, _, _ in rows])
    dist = np.array([d for _, d, _ in rows])
    ids = np.array([i for _, _, i in rows], dtype=object)
    by_key = sorted(range(len(rows)), key=lambda i: (rank_key(*rows[i]), i))
    assert rank_order(ranks, dist, ids).tolist() == by_key
    # Row by row for 2-D arrays (the batch form of the embedded engine).
    two = rank_order(np.vstack([ranks, ranks]), np.vstack([dist, dist]), np.vstack([ids, ids]), axis=1)
    assert two.tolist() == [by_key, by_key]


def test_top_k_keeps_open_ones_only_when_asked() -> None:
    entries = [entry(2, 5.0, "c"), entry(0, 90.0, "a"), entry(1, 1.0, "u"), entry(0, 10.0, "b")]
    assert [e[0][2] for e in top_k(entries, 3, False)] == ["b", "a", "u"]
    assert [e[0][2] for e in top_k(entries, 3, True)] == ["b", "a"]


# ----------------------------------------------------------------------------------- the stop
def test_settles_when_the_batch_holds_every_point() -> None:
    assert settles([], Candidates([], frontier_m=0.0, exhausted=True), 3, False)


def test_settles_short_answers_only_when_no_open_point_is_left_out() -> None:
    keyed = [entry(0, 10.0, "a")]
    knn = Candidates(keyed, frontier_m=500.0, exhausted=False)  # KNN: any class may be left out
    assert not settles(keyed, knn, 2, False)
    assert not settles(keyed, knn, 2, True)
    scan = Candidates(keyed, frontier_m=5.0, exhausted=False, frontier_rank=STATE_RANK["unknown"])
    assert settles(keyed, scan, 2, True)  # only unknown and closed left out: nothing more is open
    assert not settles(keyed, scan, 2, False)


def test_settles_on_a_worse_class_or_a_farther_bound() -> None:
    keyed = [entry(0, 100.0, "a")]
    assert settles(keyed, Candidates(keyed, 50.0, False, frontier_rank=1), 1, False)  # class decides
    assert not settles([entry(1, 100.0, "u")], Candidates(keyed, 500.0, False, frontier_rank=0), 1, False)
    # Same class: the left-out point is at least frontier_m * margin away (minus the cm of rounding).
    edge = (100.0 + 0.01) / GEODESIC_OVER_PROJECTED_MIN
    assert settles(keyed, Candidates(keyed, edge + 1e-6, False), 1, False)
    assert not settles(keyed, Candidates(keyed, edge - 1e-3, False), 1, False)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 120),
    k=st.integers(1, 10),
    open_only=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_rank_nearest_is_exact_from_a_knn_source(n: int, k: int, open_only: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct distances (ties at the frontier, batches must grow) up to nearly all distinct.
    projected = rng.integers(1, rng.choice([3, 20, 10_000]), n) * 0.7
    geodesic = projected * rng.uniform(1.0, 1.0005, n)  # never shorter than projected, as in Hanoi
    ranks = rng.integers(0, 3, n)
    ids = [f"p{i:03d}" for i in rng.permutation(n)]
    order = np.argsort(projected, kind="stable")
    calls: list[int] = []

    def fetch(want: int) -> Candidates:  # a KNN statement: nearest by projected distance, any class
        calls.append(want)
        taken = order[:want]
        return Candidates(
            ranked=[entry(int(ranks[i]), float(geodesic[i]), ids[i], int(i)) for i in taken],
            frontier_m=float(projected[taken[-1]]) if len(taken) else np.inf,
            exhausted=len(taken) < want or len(taken) >= n,
        )

    got = rank_nearest(fetch, k, open_only)
    brute = sorted(entry(int(ranks[i]), float(geodesic[i]), ids[i], i) for i in range(n))
    if open_only:
        brute = [e for e in brute if e[0][0] == 0]
    assert got == brute[:k]
    assert calls[0] == max(2 * k, 8) and all(b == 4 * a for a, b in itertools.pairwise(calls))


def test_build_result_says_when_nothing_handles_the_procedure() -> None:
    common = {"lon": 105.8, "lat": 21.0, "at": AT, "k": 3, "open_only": False, "procedure": {"code": "x"}}
    empty = build_result(**common, ranked=[], states=[], capable_count=0, origin_commune=None)
    assert empty.matches == [] and empty.notes == [NO_CAPABLE_POINT_NOTE] and empty.mode == "straight"
    one = build_result(**common, ranked=[entry(0, 12.345, "a", 7)], states=[OPEN], capable_count=1,
                       origin_commune={"code": "00001"})
    assert [(m.row, m.id, m.distance_m, m.state) for m in one.matches] == [(7, "a", 12.3, OPEN)]
    assert one.notes == [] and one.origin_commune == {"code": "00001"}


# ----------------------------------------------------------------------------------- network re-rank
class FakeNetwork:
    """Travel time is a fixed number per place; ``unreachable`` places are off the graph."""

    def __init__(self, seconds: dict[str, float], unreachable: frozenset[str] = frozenset(), beyond=False):
        self.seconds, self.unreachable, self.beyond = seconds, unreachable, beyond
        self.asked: list[tuple[list[str], int]] = []

    def nearest(self, lon, lat, candidates, k=1, route=False):
        self.asked.append(([c.id for c in candidates], k))
        if self.beyond:
            return None
        reach = sorted((self.seconds[c.id], c.id) for c in candidates if c.id not in self.unreachable)[:k]
        hits = [NetworkResult(pid, t, t * 10, [(lon, lat)] if route else None) for t, pid in reach]
        off = tuple(c.id for c in candidates if c.id in self.unreachable)
        return NetworkAnswer(hits, None, off)  # the origin's snap is not read by the re-rank


# Rows 0..5: two open, one unknown, two closed and one that does not handle the procedure.
PLACES = [("o-far", 105.83, 21.0), ("o-near", 105.803, 21.0), ("u", 105.8, 21.001), ("c1", 105.801, 21.0),
          ("c2", 105.802, 21.0), ("other", 105.8, 21.0)]
RANKS = np.array([0, 0, 1, 2, 2, 0], dtype=np.int8)
CAPABLE = np.array([0, 1, 2, 3, 4])
STATES = {0: OPEN, 1: OPEN, 2: UNKNOWN, 3: CLOSED, 4: CLOSED}
SECONDS = {"o-far": 60.0, "o-near": 300.0, "u": 10.0, "c1": 20.0, "c2": 5.0, "other": 1.0}


def straight(k: int, open_only: bool = False) -> NearestResult:
    return NearestResult(lon=105.8, lat=21.0, at=AT, k=k, mode="straight", open_only=open_only,
                         procedure={"code": "1.000001"}, matches=[], origin_commune=None, notes=["kept"])


def rerank(network: FakeNetwork, k: int, open_only: bool = False, route: bool = False) -> NearestResult:
    return rank_by_network(straight(k, open_only), network, "walk", ranks=RANKS, capable=CAPABLE, places=PLACES,
                           state_of=lambda row, at: STATES[row], route=route)


def test_network_re_rank_goes_class_by_class_by_travel_time() -> None:
    network = FakeNetwork(SECONDS)
    result = rerank(network, k=4)
    assert [m.id for m in result.matches] == ["o-far", "o-near", "u", "c2"]
    assert [m.row for m in result.matches] == [0, 1, 2, 4]
    assert [m.state for m in result.matches] == [OPEN, OPEN, UNKNOWN, CLOSED]
    assert [m.travel_time_s for m in result.matches] == [60.0, 300.0, 10.0, 5.0]
    assert all(m.cost_basis == "network" and m.route is None for m in result.matches)
    assert result.mode == "walk" and result.notes == ["kept"]
    # Each class asks only for what is still missing, and never about a point that cannot do the procedure.
    assert network.asked == [(["o-far", "o-near"], 4), (["u"], 2), (["c1", "c2"], 1)]


def test_network_re_rank_stops_once_k_are_found_and_keeps_open_only() -> None:
    network = FakeNetwork(SECONDS)
    assert [m.id for m in rerank(network, k=2).matches] == ["o-far", "o-near"] and len(network.asked) == 1
    assert [m.id for m in rerank(FakeNetwork(SECONDS), k=5, open_only=True).matches] == ["o-far", "o-near"]
    assert rerank(FakeNetwork(SECONDS), k=1, route=True).matches[0].route == [(105.8, 21.0)]


def test_origin_beyond_the_network_keeps_the_straight_answer_with_a_note() -> None:
    result = rerank(FakeNetwork(SECONDS, beyond=True), k=3)
    assert result.mode == "walk" and result.matches == [] and result.notes[0] == "kept"
    assert "beyond the walk road network" in result.notes[1].text_en


def test_places_off_the_network_are_named_when_they_could_have_won() -> None:
    # o-near is off the graph, and nearer by air than o-far is by road: the answer says so.
    result = rerank(FakeNetwork(SECONDS, unreachable=frozenset({"o-near"})), k=1)
    assert [m.id for m in result.matches] == ["o-far"]
    assert any("1 nearby place(s)" in n.text_en and "o-near" in n.text for n in result.notes[1:])
    # o-far off the graph is farther by air (3.1 km) than o-near by road (3 km): nothing to say.
    result = rerank(FakeNetwork(SECONDS, unreachable=frozenset({"o-far"})), k=1)
    assert [m.id for m in result.matches] == ["o-near"] and result.notes == ["kept"]


@pytest.mark.parametrize("k", [1, 3])
def test_network_re_rank_with_no_capable_point_is_empty(k: int) -> None:
    result = rank_by_network(straight(k), FakeNetwork(SECONDS), "car", ranks=RANKS, capable=CAPABLE[:0],
                             places=PLACES, state_of=lambda row, at: STATES[row])
    assert result.matches == [] and result.mode == "car"
