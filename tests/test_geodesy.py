"""The shared spatial vocabulary: one metric CRS, one bound, one bounding box."""

from __future__ import annotations

import random
import threading

from geo.geodesy import GEOD, GEODESIC_OVER_PROJECTED_MIN, HANOI_BBOX, TO_METRIC, TO_WGS84, in_hanoi_bbox


def test_projected_distance_never_exceeds_the_geodesic_bound_in_hanoi() -> None:
    rng = random.Random(7)
    min_lon, min_lat, max_lon, max_lat = HANOI_BBOX
    for _ in range(2_000):
        lon1, lon2 = rng.uniform(min_lon, max_lon), rng.uniform(min_lon, max_lon)
        lat1, lat2 = rng.uniform(min_lat, max_lat), rng.uniform(min_lat, max_lat)
        x1, y1 = TO_METRIC.transform(lon1, lat1)
        x2, y2 = TO_METRIC.transform(lon2, lat2)
        projected = ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5
        geodesic = GEOD.inv(lon1, lat1, lon2, lat2)[2]
        assert geodesic >= projected * GEODESIC_OVER_PROJECTED_MIN


def test_round_trip_and_bbox() -> None:
    x, y = TO_METRIC.transform(105.8542, 21.0285)
    lon, lat = TO_WGS84.transform(x, y)
    assert abs(lon - 105.8542) < 1e-9 and abs(lat - 21.0285) < 1e-9
    assert in_hanoi_bbox(105.8542, 21.0285)
    assert not in_hanoi_bbox(21.0285, 105.8542)  # swapped lat/lon
    assert not in_hanoi_bbox(106.68, 10.77)  # Ho Chi Minh City


def test_transformers_answer_the_same_from_many_threads() -> None:
    expected = TO_METRIC.transform(105.8, 21.0)
    seen: list[tuple[float, float]] = []

    def work() -> None:
        for _ in range(200):
            seen.append(TO_METRIC.transform(105.8, 21.0))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 800 and set(seen) == {expected}
