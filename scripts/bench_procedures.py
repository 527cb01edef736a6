"""``python scripts/bench.py procedures``: search over the whole catalogue, /v1/ask, build time, memory.

Measured in one run:

* procedure search (`Service.search_procedures`: the precomputed `geo.procedure_search.ProcedureSearch`
  with synonyms and summaries) over a fixed list of resident-style queries, p50/p99 per query, against
  the baseline of a plain rapidfuzz scan of every name (`rapidfuzz.process.extract` on the folded
  names, the obvious way to do it);
* ``/v1/ask`` (`Asker.ask`) p50/p99 over the evaluation set, and the catalogue hold-out's accuracy;
* the build (`geo.build.build_index` without writing) and its catalogue step;
* a server process's memory (``/proc/self/status`` VmRSS): in two fresh processes, the service loaded on
  the index as built and on the same index cut back to the 75 reviewed procedures (no catalogue rows,
  details or catalogue capabilities) — the difference is what the catalogue costs a server; and in
  this process, the growth over the queries.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "data" / "ask_cases.csv"
HOLDOUT = ROOT / "tests" / "data" / "ask_holdout_catalogue.csv"
AT = "2026-03-02T09:30:00+07:00"
QUERIES = (
    "giay phep karaoke", "sổ đỏ", "tro cap that nghiep", "chứng chỉ hành nghề dược", "an toan thuc pham",
    "sang tên xe máy", "đăng ký nhãn hiệu", "1.001193", "1.0011", "dang ki khai sinh", "ket hon", "ho chieu",
    "lam can cuoc", "giấy phép xây dựng", "ho kinh doanh", "thue thu nhap ca nhan", "hộ tịch", "nhà trẻ",
    "giay phep lao dong", "khai tu", "chuyen muc dich su dung dat", "mat ca vet xe", "thai san", "ly lich tu phap",
)  # fmt: skip


def _rss_mib() -> float:
    """Resident set size of this process, MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_CHILD = """
import sys
from pathlib import Path
from geo.index import read_index
from geo.finder import Finder
from geo.service import Service
index = read_index()
if sys.argv[1] == "authored":
    keep = index.procedures["layer"] == "authored"
    codes = set(index.procedures.loc[keep, "code"])
    index.procedures = index.procedures[keep].reset_index(drop=True)
    index.capabilities = index.capabilities[index.capabilities["procedure_code"].isin(codes)].reset_index(drop=True)
    index.procedure_details = index.procedure_details.iloc[:0]
service = Service(Finder(index))
service.search_procedures("khai sinh", 10)
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) / 1024)
"""


def _service_rss(which: str) -> float:
    """VmRSS (MiB) of a fresh process that loaded the service on the index (``full`` or ``authored``)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _CHILD, which], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _times(fn, items, repeat: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Best of ``repeat`` wall times per item, milliseconds."""
    best = np.full(len(items), np.inf)
    for _ in range(repeat):
        for i, item in enumerate(items):
            started = time.perf_counter()
            fn(item)
            best[i] = min(best[i], (time.perf_counter() - started) * 1000)
    return best


def _p(values: np.ndarray) -> str:
    return f"p50 {np.percentile(values, 50):.3f} ms, p99 {np.percentile(values, 99):.3f} ms"


def run(argv: list[str]) -> None:
    """Measure and print (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="bench.py procedures")
    parser.add_argument("--repeat", type=int, default=20, help="timed passes (best per query)")
    args = parser.parse_args(argv)
    from rapidfuzz import fuzz, process

    from geo.build import build_index
    from geo.hours import parse_time
    from geo.text import fold

    started = time.perf_counter()
    index = build_index(write=False)
    build_s = time.perf_counter() - started
    catalogue_s = index.manifest["catalogue"]["seconds"]
    summary = index.manifest["summary"]
    print(
        f"procedures: build {build_s:.2f} s (catalogue {catalogue_s:.2f} s): {summary['procedures']} procedures, "
        f"{summary['procedures_with_details']} with details, {summary['procedures_known_place']} with a known place "
        f"({index.manifest['catalogue']['known_place_share']:.1%})"
    )
    del index

    rss_start = _rss_mib()
    from geo.ask import get_asker, labels
    from geo.service import get_service

    service = get_service()
    rss_service = _rss_mib()
    asker = get_asker(service)
    rss_asker = _rss_mib()

    search = _times(lambda q: service.search_procedures(q, 10), QUERIES, args.repeat)
    names = [fold(n) for n in service.index.procedures["name"]]

    def scan(q: str) -> None:
        process.extract(fold(q), names, scorer=fuzz.WRatio, limit=10)

    baseline = _times(scan, QUERIES, max(1, args.repeat // 4))
    print(f"procedure search over {len(names)} procedures ({len(QUERIES)} queries): {_p(search)}")
    print(f"  baseline, plain rapidfuzz scan of every name (WRatio): {_p(baseline)}; "
          f"ratio p50 {np.percentile(baseline, 50) / np.percentile(search, 50):.1f}×")  # fmt: skip

    with CASES.open(encoding="utf-8") as fh:
        cases = list(csv.DictReader(fh))
    at = parse_time(AT)

    def ask(case: dict[str, str]) -> None:
        lat, lon = case["lat"], case["lon"]
        asker.ask(case["query"], lon=float(lon) if lon else None, lat=float(lat) if lat else None, at=at)

    asks = _times(ask, cases, max(1, args.repeat // 4))
    print(f"/v1/ask ({len(cases)} questions, Asker.ask): {_p(asks)}")
    if HOLDOUT.exists():
        with HOLDOUT.open(encoding="utf-8") as fh:
            holdout = list(csv.DictReader(fh))
        right = sum(labels(asker.ask(c["query"], at=at))[0] == c["procedure"] for c in holdout)
        print(f"catalogue hold-out ({HOLDOUT.name}): procedure {right}/{len(holdout)} = {right / len(holdout):.1%}")
    rss_end = _rss_mib()
    full, authored = _service_rss("full"), _service_rss("authored")
    print(
        f"memory (VmRSS): a server on the whole catalogue {full:.0f} MiB, on the 75 reviewed procedures only "
        f"{authored:.0f} MiB: the catalogue adds {full - authored:.0f} MiB; in this process the service took "
        f"{rss_service - rss_start:.0f} MiB, the asker {rss_asker - rss_service:.0f} MiB, and the queries "
        f"{rss_end - rss_asker:.0f} MiB more"
    )


if __name__ == "__main__":  # pragma: no cover
    import sys

    run(sys.argv[1:])
