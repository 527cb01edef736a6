"""The query service: network modes through /v1/nearest and the CLI, straight-line fallback, GeoJSON contract."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from geo.hours import TZ, parse_time
from geo.network import Candidate

AT = "2026-03-02T09:30:00+07:00"  # a Monday morning: every office open
HOAN_KIEM = {"lat": 21.0285, "lon": 105.8542}
SOC_SON = {"lat": 21.255, "lon": 105.85}  # far north: no road data there


@pytest.mark.parametrize("mode", ["walk", "motorbike", "car"])
def test_network_modes_rank_by_travel_time(client, service, mode: str) -> None:
    body = client.get("/v1/nearest", params={**HOAN_KIEM, "procedure": "1.001193", "at": AT, "k": 3,
                                              "mode": mode}).json()
    props = [f["properties"] for f in body["features"]]
    assert len(props) == 3 and body["query"]["mode"] == mode
    assert all(p["cost_basis"] == "network" and p["travel_time_s"] > 0 for p in props)
    times = [p["travel_time_s"] for p in props]
    assert times == sorted(times)
    assert "OpenStreetMap" in body["attribution"]
    # The same answer as the road network's own nearest over the open capable places.
    finder = service.backend
    capable = finder.capable_rows("1.001193")
    candidates = [Candidate(str(finder.points["id"].iat[r]), float(finder.points.geometry.x.iat[r]),
                            float(finder.points.geometry.y.iat[r])) for r in capable]
    direct = service.network(mode).nearest(HOAN_KIEM["lon"], HOAN_KIEM["lat"], candidates, k=3)
    assert [p["id"] for p in props] == [hit.id for hit in direct]
    assert times == pytest.approx([hit.travel_time_s for hit in direct], abs=0.1)


def test_route_is_a_linestring_from_origin_to_place(client) -> None:
    body = client.get("/v1/nearest", params={**HOAN_KIEM, "procedure": "1.001193", "at": AT, "k": 1,
                                              "mode": "walk", "route": "true"}).json()
    geometry = body["features"][0]["geometry"]
    assert geometry["type"] == "GeometryCollection"
    point, line = geometry["geometries"]
    assert point["type"] == "Point" and line["type"] == "LineString" and len(line["coordinates"]) >= 2
    assert line["coordinates"][-1] == pytest.approx(point["coordinates"], abs=0.001)
    assert line["coordinates"][0] == pytest.approx([HOAN_KIEM["lon"], HOAN_KIEM["lat"]], abs=0.005)


def test_origin_beyond_the_road_network_falls_back_to_straight_line(client) -> None:
    body = client.get("/v1/nearest", params={**SOC_SON, "procedure": "1.001193", "at": AT, "mode": "car"}).json()
    props = [f["properties"] for f in body["features"]]
    assert props and all(p["cost_basis"] == "straight_line" and p["travel_time_s"] is None for p in props)
    assert any(
        "beyond the car road network" in note["text_en"] and note["code"] == "beyond_network" for note in body["notes"]
    )


def test_features_carry_today_hours_and_state(client) -> None:
    body = client.get("/v1/nearest", params={**HOAN_KIEM, "procedure": "1.001193", "at": AT}).json()
    props = body["features"][0]["properties"]
    assert props["today"]["text"].startswith("08:00–12:00, 13:00–17:00")
    assert props["state"] == "open" and props["qualifies"].startswith("handles 1.001193")


def test_cli_nearest_by_motorbike_json() -> None:
    result = CliRunner().invoke(cli, ["nearest", "--lat", "21.0285", "--lon", "105.8542", "--procedure",
                                      "1.001193", "--at", AT, "--mode", "motorbike", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["features"][0]["properties"]["cost_basis"] == "network"


def test_cli_errors_are_one_line_and_non_zero() -> None:
    result = CliRunner().invoke(cli, ["nearest", "--lat", "105.8542", "--lon", "21.0285", "--procedure",
                                      "1.001193"])
    assert result.exit_code == 1
    assert "swapped" in result.output and len(result.output.strip().splitlines()) == 1


def test_unknown_mode_is_refused(service) -> None:
    from geo.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="mode='plane'"):
        service.nearest(105.8542, 21.0285, "1.001193", parse_time(AT), mode="plane")


def test_iso_keeps_each_zone_offset_despite_its_cache() -> None:
    from datetime import UTC, datetime

    from geo.hours import TZ
    from geo.service import iso

    hanoi = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    assert iso(hanoi) == "2026-03-02T09:30+07:00"
    assert iso(hanoi.astimezone(UTC)) == "2026-03-02T02:30+00:00"  # the same instant, another zone
    assert iso(hanoi.replace(second=5)) == "2026-03-02T09:30:05+07:00"
    assert iso(None) is None


# ----------------------------------------------------------------------------------- the facade
def test_the_service_answers_for_its_backend(service) -> None:
    from geo.finder import Finder

    assert isinstance(service.backend, Finder)
    assert service.name == "embedded" and service.does_io is False
    assert service.health() == {"index": "ok"}
    assert service.index is service.backend.index and service.calendar is service.backend.calendar
    assert service.bbox == tuple(float(v) for v in service.index.communes.total_bounds)


def test_layers_are_the_public_ones_only(service) -> None:
    from geo.errors import NotFound

    assert service.layer("communes") is service.index.communes
    assert len(service.layer("service_points")) == len(service.index.service_points)
    with pytest.raises(NotFound, match="known: service_points, communes, legacy_units"):
        service.layer("capabilities")


def test_points_collection_filters_by_procedure(service) -> None:
    at = parse_time(AT)
    every = service.points_collection(None, at)
    assert len(every["features"]) == len(service.index.service_points) and every["procedure"] is None
    some = service.points_collection("1.001193", at)
    capable = {str(service.index.service_points["id"].iat[r]) for r in service.backend.capable_rows("1.001193")}
    assert {f["id"] for f in some["features"]} == capable and some["procedure"] == "1.001193"
    assert some["at"] == "2026-03-02T09:30+07:00" and all("state" in f["properties"] for f in some["features"])


def test_lookups_give_json_ready_records(service) -> None:
    from geo.errors import NotFound, UnknownProcedure

    detail = service.procedure_detail("1.001193")
    assert detail["code"] == "1.001193" and isinstance(detail["handled_at"], list)
    assert detail["handled_in_person_here"] is True
    with pytest.raises(UnknownProcedure):
        service.procedure_detail("9.999999")
    found = service.search_procedures("khai sinh", 5)
    assert 0 < len(found) <= 5 and all("score" not in r for r in found)
    assert [c["code"] for c in service.search_communes("00004", 10)] == ["00004"]
    feature = service.commune_feature("00004")
    assert feature["id"] == "00004" and feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    with pytest.raises(NotFound, match="no commune with code '99999'"):
        service.commune_feature("99999")


# ---------------------------------------------------------------------------------------------- no dead ends
SUNDAY_NIGHT = "2026-03-08T23:00:00+07:00"
MONDAY_8 = "2026-03-09T08:00+07:00"


@pytest.mark.parametrize("mode", ["straight", "walk"])
@pytest.mark.parametrize("open_only", [True, False])
def test_nothing_open_names_the_earliest_reopening_and_shows_the_nearest(client, mode: str, open_only: bool) -> None:
    params = {**HOAN_KIEM, "procedure": "1.001193", "at": SUNDAY_NIGHT, "k": 3, "mode": mode,
              "open_only": str(open_only).lower()}  # fmt: skip
    body = client.get("/v1/nearest", params=params).json()
    props = [f["properties"] for f in body["features"]]
    assert len(props) == 3 and all(p["state"] == "closed" and p["opens_at"] == MONDAY_8 for p in props)
    assert body["query"]["open_only"] is open_only
    reopening = body["next_opening"]
    assert reopening["opens_at"] == MONDAY_8 and reopening["id"] == props[0]["id"] and reopening["name"]
    codes = [n["code"] for n in body["notes"]]
    assert codes[0] == "all_closed" and ("none_open_shown_closed" in codes) is open_only
    first = body["notes"][0]
    assert "08:00 thứ Hai 09/03/2026" in first["text"] and reopening["name"] in first["text"]
    assert "08:00 Monday 09/03/2026" in first["text_en"]


def test_when_something_is_open_there_is_no_next_opening(client) -> None:
    body = client.get("/v1/nearest", params={**HOAN_KIEM, "procedure": "1.001193", "at": AT,
                                              "open_only": "true"}).json()  # fmt: skip
    assert body["next_opening"] is None and body["notes"] == []
    assert all(f["properties"]["state"] == "open" for f in body["features"])


def test_the_earliest_reopening_may_be_another_place_than_the_nearest(service) -> None:
    # Every point has the same hours today, so the case is built: the nearest reopens a day later.
    from geo.ranking import earliest_reopening

    places = [("near", 105.8542, 21.0285), ("far", 105.90, 21.05)]
    monday, tuesday = parse_time(MONDAY_8), parse_time("2026-03-10T08:00+07:00")
    found = earliest_reopening(105.8542, 21.0285, [0, 1], [tuesday, monday], places, preferred=[0, 1])
    assert found is not None and found.id == "far" and found.opens_at == monday and found.distance_m > 4000
    tie = earliest_reopening(105.8542, 21.0285, [1, 0], [monday, monday], places)
    assert tie is not None and tie.id == "near"  # a tie goes to the nearest
    assert earliest_reopening(105.8542, 21.0285, [0], [None], places) is None


def test_cli_nearest_says_it_in_vietnamese(service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import geo.service

    monkeypatch.setattr(geo.service, "get_service", lambda: service)
    result = CliRunner().invoke(cli, ["nearest", "--lat", "21.0285", "--lon", "105.8542", "--procedure", "1.001193",
                                      "--at", SUNDAY_NIGHT, "--open-only"])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "đang đóng cửa" in text and "sớm nhất mở lại" in text and "08:00 thứ Hai 09/03/2026" in text
    assert "closed" not in text and "note:" not in text


def test_ask_and_mcp_name_the_reopening(client, service) -> None:  # type: ignore[no-untyped-def]
    import anyio
    from mcp import Client

    from app.mcp import build_server

    body = client.get("/v1/ask", params={"q": "làm giấy khai sinh ở phường Hoàn Kiếm", "at": SUNDAY_NIGHT}).json()
    assert body["status"] == "answered" and "hiện chưa có nơi nào mở cửa" in body["answer"]
    assert "mở lại lúc 08:00 thứ Hai 09/03" in body["answer"] and body["result"]["next_opening"]["opens_at"] == MONDAY_8

    async def main():  # type: ignore[no-untyped-def]
        async with Client(build_server(service)) as mcp_client:
            arguments = {"procedure": "khai sinh", "place": "phường Hoàn Kiếm", "at": SUNDAY_NIGHT}
            return await mcp_client.call_tool("find_nearest_service_point", arguments)

    data = anyio.run(main).structured_content
    assert data["next_opening"]["opens_at"] == MONDAY_8 and data["places"][0]["opens_at"] == MONDAY_8
    assert data["notes"][0]["code"] == "all_closed"


def test_no_known_reopening_is_said_not_hidden(service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from geo.hours import OpeningState

    # Every capable place closed for longer than the look-ahead (no next opening known).
    monkeypatch.setattr(service.backend, "state_of", lambda row, at: OpeningState("closed"))
    result = service.nearest(HOAN_KIEM["lon"], HOAN_KIEM["lat"], "1.001193", parse_time(SUNDAY_NIGHT), open_only=True)
    assert result.matches and result.next_opening is None
    assert [n.code for n in result.notes] == ["no_reopening_known", "none_open_shown_closed"]
    assert service.to_feature_collection(result)["next_opening"] is None


# --------------------------------------------------------------------------------------------- staff changes
def _next_weekday_morning() -> datetime:
    """09:30 on the next working weekday (Tuesday to Thursday: no holiday rules the test depends on)."""
    at = datetime.now(TZ).replace(hour=9, minute=30, second=0, microsecond=0) + timedelta(days=1)
    while at.weekday() not in (1, 2, 3):
        at += timedelta(days=1)
    return at


def test_a_nearer_place_a_staff_change_keeps_out_is_named_with_the_reason(finder, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from geo.changes import Change
    from geo.service import Service
    from geo.store.staff import SqliteStaffStore

    store = SqliteStaffStore(tmp_path / "staff.sqlite")
    service = Service(finder, settings, staff=store)
    at = _next_weekday_morning()
    lon, lat = HOAN_KIEM["lon"], HOAN_KIEM["lat"]
    try:
        before = service.nearest(lon, lat, "1.001193", at, k=3)
        assert before.notes == [] and all(m.state.is_open for m in before.matches)
        nearest, farthest = before.matches[0], before.matches[-1]
        far_away = service.nearest(SOC_SON["lon"], SOC_SON["lat"], "1.001193", at, k=1).matches[0]  # far north
        for place, reason in ((nearest.id, "Mất điện đột xuất"), (far_away.id, "Sửa trụ sở")):
            store.add_change(
                Change(id="", kind="closure", place_id=place, reason=reason, starts=at - timedelta(hours=1),
                       ends=at + timedelta(hours=3)),
                actor="Lan",
            )  # fmt: skip
        service.refresh()
        after = service.nearest(lon, lat, "1.001193", at, k=3)
        assert nearest.id not in [m.id for m in after.matches]
        [note] = after.notes  # the far place is not nearer than the answer: not named
        name = service.point_feature(nearest.row)["properties"]["name"]
        assert note.code == "nearer_closed_by_staff" and name in note.text and "“Mất điện đột xuất”" in note.text
        assert "is nearer but closed" in note.text_en and "Sửa trụ sở" not in note.text
        # After the closure's hours, the place is the answer again and nothing is said.
        later = service.nearest(lon, lat, "1.001193", at + timedelta(hours=4, minutes=30), k=3)
        assert all(n.code != "nearer_closed_by_staff" for n in later.notes)
        # The procedure made unavailable there instead (the closure undone): said as such, for that procedure only.
        closure_id = next(c.id for c in store.changes() if c.place_id == nearest.id)
        store.add_change(Change(id="", kind="undo", place_id=nearest.id, reason="nhầm", undoes=closure_id), actor="Lan")
        store.add_change(
            Change(id="", kind="procedure_unavailable", place_id=nearest.id, reason="Hết phôi", procedure="1.001193",
                   starts=at - timedelta(hours=1), ends=at + timedelta(hours=3)),
            actor="Lan",
        )  # fmt: skip
        service.refresh()
        unavailable = service.nearest(lon, lat, "1.001193", at, k=3)
        assert [n.code for n in unavailable.notes] == ["nearer_unavailable_by_staff"]
        assert "“Hết phôi”" in unavailable.notes[0].text
        assert farthest.distance_m >= unavailable.matches[0].distance_m
    finally:
        service.live.stop()
