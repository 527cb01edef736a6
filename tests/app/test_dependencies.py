"""app.dependencies: the fast query-string path answers as Starlette and FastAPI would."""

from __future__ import annotations

from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams

from app.dependencies import query_dict, query_openapi

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(st.lists(st.tuples(text, text), max_size=6), st.booleans())
def test_query_dict_equals_starlette(pairs: list[tuple[str, str]], plus: bool) -> None:
    raw = urlencode(pairs, quote_via=quote_plus if plus else quote).encode()
    assert query_dict(raw) == dict(QueryParams(raw))  # Starlette reads scope["query_string"], bytes


@pytest.mark.parametrize(
    "raw", ["a", "a=", "=b", "a=1&a=2", "&&a=1&", "a=%2", "a=%ZZ&b=%C3%A9", "k=%2B07%3A00", "x=1+2", "é=ü"]
)
def test_query_dict_edge_cases_equal_starlette(raw: str) -> None:
    assert query_dict(raw.encode()) == dict(QueryParams(raw.encode()))


class _Query(BaseModel):
    lat: float = Field(description="Latitude.")
    k: int = Field(default=3, ge=1, le=50, description="How many.")


def test_query_openapi_documents_every_field() -> None:
    params = {p["name"]: p for p in query_openapi(_Query)["parameters"]}
    assert params["lat"]["required"] is True and params["lat"]["description"] == "Latitude."
    assert params["k"]["required"] is False and params["k"]["schema"]["maximum"] == 50
    assert all(p["in"] == "query" for p in params.values())
