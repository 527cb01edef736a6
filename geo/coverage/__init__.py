"""Coverage for planners: per-commune coverage, scenarios, maps and exports, new sites (MCLP).

Modules, in the order data flows: `demand` (the population grid), `scenarios` (the places measured:
today, pre-merger, a scenario's edits), `costs` (the cost model per mode), `engine` (`CoverageEngine`:
measures, comparisons, JSON), `maps` (HTML, PNG, CSV, GeoPackage; ``gandan coverage``) and `siting`
(new sites, MCLP). The measuring names are re-exported here; the maps and siting names load on first
use, so a server that only answers ``/v1/coverage`` JSON never imports pulp or the output writers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from geo.coverage.costs import (
    BASIS_MIXED,
    BASIS_NETWORK,
    BASIS_STRAIGHT,
    BASIS_STRAIGHT_CIRCUITY,
    NetworkModel,
    PointCosts,
    nearest_geodesic,
    network_model,
    point_costs,
)
from geo.coverage.demand import DEFAULT_GRID_M, Demand, population_grid
from geo.coverage.engine import (
    CITY_TARGETS,
    DEFAULT_THRESHOLD,
    MAX_SITES,
    CoverageEngine,
    CoverageReport,
    CoverageResult,
)
from geo.coverage.scenarios import (
    BEFORE_KINDS,
    Change,
    apply_changes,
    before_facilities,
    facilities_frame,
    parse_changes,
    read_scenario,
    scenario_csv,
    scenario_json,
    today_facilities,
)
from geo.geodesy import geodesic_m, to_metric

if TYPE_CHECKING:
    from geo.coverage.maps import caption, choropleth, expected_steps, reach_phrase, run_to_files, write_outputs
    from geo.coverage.siting import SitingFailed, SitingResult, candidate_sites, suggest_sites

__all__ = [
    "BASIS_MIXED",
    "BASIS_NETWORK",
    "BASIS_STRAIGHT",
    "BASIS_STRAIGHT_CIRCUITY",
    "BEFORE_KINDS",
    "CITY_TARGETS",
    "DEFAULT_GRID_M",
    "DEFAULT_THRESHOLD",
    "MAX_SITES",
    "Change",
    "CoverageEngine",
    "CoverageReport",
    "CoverageResult",
    "Demand",
    "NetworkModel",
    "PointCosts",
    "SitingFailed",
    "SitingResult",
    "apply_changes",
    "before_facilities",
    "candidate_sites",
    "caption",
    "choropleth",
    "expected_steps",
    "facilities_frame",
    "geodesic_m",
    "nearest_geodesic",
    "network_model",
    "parse_changes",
    "point_costs",
    "population_grid",
    "reach_phrase",
    "read_scenario",
    "run_to_files",
    "scenario_csv",
    "scenario_json",
    "suggest_sites",
    "to_metric",
    "today_facilities",
    "write_outputs",
]

# Output writers and the MCLP (pulp, spopt) load on first use.
_LAZY = {
    "caption": "geo.coverage.maps",
    "choropleth": "geo.coverage.maps",
    "expected_steps": "geo.coverage.maps",
    "reach_phrase": "geo.coverage.maps",
    "run_to_files": "geo.coverage.maps",
    "write_outputs": "geo.coverage.maps",
    "SitingFailed": "geo.coverage.siting",
    "SitingResult": "geo.coverage.siting",
    "candidate_sites": "geo.coverage.siting",
    "suggest_sites": "geo.coverage.siting",
}


def __getattr__(name: str) -> Any:
    """Import the maps and siting names on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
