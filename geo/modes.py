"""How a person travels to a place: the one vocabulary of travel modes.

``straight`` is the straight-line (geodesic) distance; the road modes are costed on a road graph
(`geo.network`). Every surface takes its mode names and its `TravelMode` type from here.

Examples
--------
>>> TRAVEL_MODES
('straight', 'walk', 'motorbike', 'car')
>>> is_road_mode("walk"), is_road_mode("straight")
(True, False)
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = ["ROAD_MODES", "TRAVEL_MODES", "RoadMode", "TravelMode", "is_road_mode"]

RoadMode = Literal["walk", "motorbike", "car"]
TravelMode = Literal["straight", "walk", "motorbike", "car"]
# Plain strings: callers compare user input with them; the Literal types are for signatures.
ROAD_MODES: Final[tuple[str, ...]] = get_args(RoadMode)
TRAVEL_MODES: Final[tuple[str, ...]] = get_args(TravelMode)


def is_road_mode(mode: str) -> bool:
    """Tell whether ``mode`` is costed on a road graph rather than in a straight line."""
    return mode in ROAD_MODES
