"""``python scripts/bench.py ask [--repeat N] [--cases PATH]``: accuracy and latency of free-text lookups.

Runs every query of the evaluation set (``tests/data/ask_cases.csv``) through `geo.ask.Asker.ask` and
prints the accuracy for the procedure and for the place, and the latency per query (p50, p99, max).
Baselines measured in the same run on the same queries:

* accuracy of a naive reader: the catalogue's own search (`geo.registry.search_procedures`) on the
  whole text for the procedure, and the first commune in force whose name appears in the folded text;
* latency of the bare search (`Service.nearest` + `to_feature_collection` from the point the asker
  chose), so the ratio is the cost of understanding on top of answering;
* latency with the time understanding (`geo.ask.when`) turned off (``Asker.understand_times``), so the
  difference at p50 is what reading times costs.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "data" / "ask_cases.csv"
HOLDOUT = ROOT / "tests" / "data" / "ask_holdout.csv"
"""25 queries written after the first tuning round, to see how the rules carry over (not asserted)."""
HOLDOUT_CATALOGUE = ROOT / "tests" / "data" / "ask_holdout_catalogue.csv"
"""42 questions about catalogue procedures, written after the synonyms for the catalogue were tuned."""
AT = "2026-03-02T09:30:00+07:00"


def _naive(q: str, catalog, communes) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from geo.registry import search_procedures
    from geo.text import fold

    found = search_procedures(q, catalog, limit=1)
    procedure = str(found["code"].iloc[0]) if len(found) else "ASK"
    text = f" {fold(q)} "
    place = next(
        (str(c) for c, n in zip(communes["code"], communes["name_ascii"], strict=True) if f" {n} " in text), "ASK"
    )
    return procedure, place


def _accuracy_only(path: Path) -> None:
    from geo.ask import get_asker, labels
    from geo.hours import parse_time
    from geo.service import get_service

    with path.open(encoding="utf-8") as fh:
        cases = list(csv.DictReader(fh))
    asker = get_asker(get_service())
    got = [labels(asker.ask(c["query"], at=parse_time(AT))) for c in cases]
    proc = sum(g[0] == c["procedure"] for g, c in zip(got, cases, strict=True))
    place = sum(g[1] in c["place"].split("|") for g, c in zip(got, cases, strict=True))
    n = len(cases)
    print(f"ask hold-out ({path.name}, {n} queries): procedure {proc / n:.1%}, place {place / n:.1%}")


def run(argv: list[str]) -> None:
    """Measure and print (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="bench.py ask")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the set (best per query)")
    parser.add_argument("--cases", type=Path, default=CASES)
    args = parser.parse_args(argv)
    if args.cases == CASES and HOLDOUT.exists():
        _accuracy_only(HOLDOUT)
    if args.cases == CASES and HOLDOUT_CATALOGUE.exists():
        _accuracy_only(HOLDOUT_CATALOGUE)

    from geo.ask import Asker, labels
    from geo.hours import parse_time
    from geo.service import get_service

    at = parse_time(AT)
    with args.cases.open(encoding="utf-8") as fh:
        cases = list(csv.DictReader(fh))
    service = get_service()
    started = time.perf_counter()
    asker = Asker(service)
    build_s = time.perf_counter() - started

    ok_proc = ok_place = naive_proc = naive_place = 0
    points: list[tuple[float, float, str]] = []
    for case in cases:
        lat = float(case["lat"]) if case["lat"] else None
        lon = float(case["lon"]) if case["lon"] else None
        response = asker.ask(case["query"], lon=lon, lat=lat, at=at)
        procedure, place = labels(response)
        ok_proc += procedure == case["procedure"]
        ok_place += place in case["place"].split("|")
        n_proc, n_place = _naive(case["query"], asker.catalog, service.index.communes)
        naive_proc += n_proc == case["procedure"]
        naive_place += n_place in case["place"].split("|")
        chosen = response["understood"].get("place") or {}
        proc = (response["understood"].get("procedure") or {}).get("code")
        if response["status"] == "answered" and proc:
            points.append((float(chosen["lon"]), float(chosen["lat"]), proc))

    def latencies(fn, items) -> np.ndarray:  # type: ignore[no-untyped-def]
        best = np.full(len(items), np.inf)
        for _ in range(args.repeat):
            for i, item in enumerate(items):
                t = time.perf_counter()
                fn(item)
                best[i] = min(best[i], time.perf_counter() - t)
        return best * 1000

    def latencies_once(fn, items) -> np.ndarray:  # type: ignore[no-untyped-def]
        took = np.empty(len(items))
        for i, item in enumerate(items):
            t = time.perf_counter()
            fn(item)
            took[i] = time.perf_counter() - t
        return took * 1000

    def one(case: dict[str, str]) -> None:
        lat = float(case["lat"]) if case["lat"] else None
        lon = float(case["lon"]) if case["lon"] else None
        asker.ask(case["query"], lon=lon, lat=lat, at=at)

    def bare(point: tuple[float, float, str]) -> None:
        service.to_feature_collection(service.nearest(point[0], point[1], point[2], at, k=3))

    # Time understanding on and off in the same run, interleaved pass by pass (so drift hits both alike).
    ask_ms = np.full(len(cases), np.inf)
    no_time_ms = np.full(len(cases), np.inf)
    for _ in range(args.repeat):
        for times_on, best in ((True, ask_ms), (False, no_time_ms)):
            asker.understand_times = times_on
            np.minimum(best, latencies_once(one, cases), out=best)
    asker.understand_times = True
    bare_ms = latencies(bare, points)
    n = len(cases)
    print(f"ask: {n} queries; asker built in {build_s:.2f} s (gazetteer, synonyms, OSM street names)")
    print(
        f"ask accuracy: procedure {ok_proc}/{n} = {ok_proc / n:.1%}, place {ok_place}/{n} = {ok_place / n:.1%}; "
        f"naive baseline (catalogue search + commune substring) procedure {naive_proc / n:.1%}, "
        f"place {naive_place / n:.1%}"
    )
    p50, p99 = np.percentile(ask_ms, [50, 99])
    b50, b99 = np.percentile(bare_ms, [50, 99])
    print(
        f"ask latency per query (best of {args.repeat}): p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
        f"max {ask_ms.max():.2f} ms; "
        f"bare nearest + GeoJSON for the {len(points)} answered: p50 {b50:.2f} ms, p99 {b99:.2f} ms; "
        f"ratio p50 {p50 / b50:.1f}×"
    )
    n50 = float(np.percentile(no_time_ms, 50))
    print(
        f"ask p50 with time understanding {p50:.3f} ms, without {n50:.3f} ms: "
        f"time understanding adds {p50 - n50:+.3f} ms at p50 (goal: at most +0.2 ms)"
    )


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    run(sys.argv[1:])
