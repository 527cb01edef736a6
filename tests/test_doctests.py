"""Run the examples in every domain module's docstrings (numpydoc ``Examples`` sections)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import geo

# Migrations run Alembic at import time; they are exercised by the PostGIS tests instead.
_SKIP = ("geo.store.migrations",)
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(geo.__path__, "geo.") if not m.name.startswith(_SKIP)
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_examples_exist() -> None:
    attempted = sum(doctest.testmod(importlib.import_module(n)).attempted for n in MODULES)
    assert attempted >= 20, attempted
