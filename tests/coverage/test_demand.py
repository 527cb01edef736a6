"""The population grid (geo.coverage.demand): the lattice fixture by hand, and the real communes' totals."""

from __future__ import annotations

import numpy as np

from geo.coverage import CoverageEngine


def test_grid_spreads_population_evenly_on_the_lattice(engine: CoverageEngine, lattice_origin) -> None:  # type: ignore[no-untyped-def]
    demand = engine.demand
    assert len(demand) == 48
    for row, (people, count) in enumerate([(1600, 16), (3200, 16), (800, 16)]):
        mine = demand.commune == row
        assert mine.sum() == count
        np.testing.assert_allclose(demand.weight[mine], people / count)
    # Centres at (i + 0.5) * 250 m on the lattice.
    east = np.sort(np.unique(demand.x - lattice_origin[0]))
    np.testing.assert_allclose(east, [125, 375, 625, 875, 1125, 1375, 1625, 1875])


def test_real_grid_conserves_each_communes_population(real: CoverageEngine) -> None:
    pop = np.bincount(real.demand.commune, real.demand.weight, minlength=len(real.communes))
    np.testing.assert_allclose(pop, real.communes["population"].to_numpy(dtype=float), rtol=1e-9)
