"""The understood-query records (geo.ask.understanding)."""

from __future__ import annotations

from geo.ask.understanding import Place, PlaceReading


def test_place_is_resolved_only_with_a_point_and_no_options() -> None:
    assert Place("commune", "n", "l", 0.9, lon=105.8, lat=21.0).resolved
    assert not Place("commune", "n", "l", 0.9, lon=105.8).resolved
    assert not Place("ambiguous", "n", "l", 0.3, lon=105.8, lat=21.0, options=[{"label": "a"}]).resolved


def test_place_dict_rounds_for_json() -> None:
    data = Place("street", "Huế", "phố Huế", 0.8123, lon=105.851234567, lat=21.0123456789).to_dict()
    assert (data["lon"], data["lat"], data["confidence"]) == (105.8512346, 21.0123457, 0.81)
    assert list(data) == [
        "kind", "name", "label", "matched", "confidence", "lon", "lat", "precision", "commune", "district", "parts",
        "detail", "explanation",
    ]  # fmt: skip
    assert Place("ambiguous", "n", "l", 0.3).to_dict()["lon"] is None


def test_place_reading_defaults_to_nothing_named() -> None:
    assert PlaceReading(None) == PlaceReading(None, named=False, problem="")
