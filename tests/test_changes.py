"""Staff changes: validation naming each field, hours with closures, the overlay on the real index."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from geo.changes import Change, active_changes, hours_with_changes, overlay_points, validate_change
from geo.errors import DataValidationError
from geo.hours import TZ, opening_state
from geo.messages import CATALOGUE, change_kind_label, message

BASE = "Mo-Fr 08:00-12:00,13:00-17:00; PH off"
TUESDAY = datetime(2026, 12, 1, tzinfo=TZ)  # a working Tuesday


def _at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


def _closure(**kw) -> Change:
    values = dict(
        id="chg-1", kind="closure", place_id="p1", reason="Họp", starts=_at(TUESDAY, 13), ends=_at(TUESDAY, 17)
    )
    values.update(kw)
    return Change(**values)


def test_afternoon_closure_closes_only_the_afternoon_and_says_why() -> None:
    hours = hours_with_changes(BASE, [_closure(reason='Mất điện "đột xuất"')])
    assert opening_state(hours, _at(TUESDAY, 9)).state == "open"
    state = opening_state(hours, _at(TUESDAY, 14))
    assert state.state == "closed"
    assert state.reason == "Mất điện 'đột xuất'"
    assert state.opens_at == _at(TUESDAY + timedelta(days=1), 8)


def test_whole_days_and_multi_day_ranges() -> None:
    change = _closure(starts=TUESDAY, ends=TUESDAY + timedelta(days=2))
    hours = hours_with_changes(BASE, [change])
    assert opening_state(hours, _at(TUESDAY, 9)).state == "closed"
    assert opening_state(hours, _at(TUESDAY + timedelta(days=1), 15)).state == "closed"
    assert opening_state(hours, _at(TUESDAY + timedelta(days=2), 9)).state == "open"
    assert opening_state(hours, _at(TUESDAY, 9)).opens_at == _at(TUESDAY + timedelta(days=2), 8)


def test_closure_crossing_midnight_is_split_per_day() -> None:
    change = _closure(starts=_at(TUESDAY, 16), ends=_at(TUESDAY + timedelta(days=1), 10))
    hours = hours_with_changes(BASE, [change])
    assert opening_state(hours, _at(TUESDAY, 15)).state == "open"
    assert opening_state(hours, _at(TUESDAY, 16, 30)).state == "closed"
    assert opening_state(hours, _at(TUESDAY + timedelta(days=1), 9)).state == "closed"
    assert opening_state(hours, _at(TUESDAY + timedelta(days=1), 10, 30)).state == "open"


def test_special_hours_open_a_saturday_and_shorten_a_day() -> None:
    saturday = TUESDAY + timedelta(days=4)
    extra = Change(
        id="chg-2",
        kind="special_hours",
        place_id="p1",
        reason="Trực thứ bảy",
        hours="08:00-11:30",
        starts=saturday,
        ends=saturday + timedelta(days=1),
    )
    hours = hours_with_changes(BASE, [extra])
    assert opening_state(hours, _at(saturday, 9)).state == "open"
    assert opening_state(hours, _at(saturday, 12)).state == "closed"
    assert opening_state(BASE, _at(saturday, 9)).state == "closed"


def test_unknown_hours_stay_unknown_outside_the_closure() -> None:
    hours = hours_with_changes(None, [_closure(starts=TUESDAY, ends=TUESDAY + timedelta(days=1))])
    assert opening_state(hours, _at(TUESDAY, 9)).state == "closed"
    assert opening_state(hours, _at(TUESDAY + timedelta(days=1), 9)).state == "unknown"


def test_undo_cancels_and_ended_changes_drop_out() -> None:
    first = _closure(id="chg-1")
    undo = Change(id="chg-2", kind="undo", place_id="p1", reason="nhầm", undoes="chg-1")
    later = _closure(id="chg-3", starts=_at(TUESDAY, 8), ends=_at(TUESDAY, 9))
    assert [c.id for c in active_changes([first, undo, later])] == ["chg-3"]
    assert active_changes([later], now=_at(TUESDAY, 10)) == []


def test_round_trip_through_json() -> None:
    change = _closure(author="an", created_at=TUESDAY)
    assert Change.from_json(change.to_json()) == change


# ------------------------------------------------------------------ validation on the real index
def _validate(index, change: Change, existing=()) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        validate_change(change, index.service_points, index.communes, index.procedures["code"], existing)
    return [f"{p.column}: {p.message_en}" for p in info.value.problems]


def _place(index):
    return index.service_points.iloc[0]


def test_validation_names_each_field(index) -> None:
    pid = str(_place(index)["id"])
    found = _validate(index, _closure(place_id="nope", reason=" ", ends=_at(TUESDAY, 12)))
    assert found == [
        "place_id: no service point has the id 'nope'",
        "reason: say why (the reason is shown to citizens and kept in the audit)",
        "ends: ends (12:00 Tuesday 01/12/2026) must be after starts (13:00 Tuesday 01/12/2026)",
    ]
    naive = _validate(index, _closure(place_id=pid, starts=datetime(2026, 12, 1, 13)))
    assert naive == ["starts: a time needs its UTC offset (e.g. 2026-12-01T13:00+07:00)"]
    bad_hours = _validate(
        index,
        Change(
            id="",
            kind="special_hours",
            place_id=pid,
            reason="x",
            hours="8h-11h",
            starts=TUESDAY,
            ends=TUESDAY + timedelta(days=1),
        ),
    )
    assert len(bad_hours) == 1 and bad_hours[0].startswith("hours: invalid hours '8h-11h': invalid opening_hours")
    unknown = _validate(
        index, Change(id="", kind="procedure_unavailable", place_id=pid, reason="x", procedure="9.999999")
    )
    assert unknown == ["procedure: unknown procedure '9.999999'"]


def test_location_must_be_in_hanoi_and_in_the_commune(index) -> None:
    place = _place(index)
    pid = str(place["id"])
    base = dict(
        id="",
        kind="location",
        place_id=pid,
        reason="đo lại",
        precision="exact",
        method="surveyed",
        measured="GPS ở cửa",
    )
    swapped = _validate(index, Change(**base, lon=21.03, lat=105.85))
    assert swapped == ["lon: 21.03, 105.85 is outside Hanoi (lat and lon swapped?)"]
    other = index.communes[index.communes["code"] != place["commune_code"]].geometry.iloc[0].representative_point()
    outside = _validate(index, Change(**base, lon=other.x, lat=other.y))
    assert len(outside) == 1 and "outside the place's commune" in outside[0]
    validate_change(
        Change(**base, lon=other.x, lat=other.y, confirm_outside_commune=True),
        index.service_points,
        index.communes,
        index.procedures["code"],
    )
    guessed = _validate(index, Change(**{**base, "method": "staff_map"}, lon=place.geometry.x, lat=place.geometry.y))
    assert guessed == ["precision: only a point surveyed on site may be exact"]


def test_undo_must_name_a_live_change(index) -> None:
    pid = str(_place(index)["id"])
    first = _closure(place_id=pid)
    undo = Change(id="chg-2", kind="undo", place_id=pid, reason="nhầm", undoes="chg-1")
    assert _validate(index, Change(id="", kind="undo", place_id=pid, reason="x", undoes="chg-9"), [first]) == [
        "undoes: no change has the id 'chg-9'"
    ]
    assert _validate(index, Change(id="", kind="undo", place_id=pid, reason="x", undoes="chg-1"), [first, undo]) == [
        "undoes: chg-1 is already undone"
    ]


def test_overlay_marks_source_and_reports_orphans(index) -> None:
    place = _place(index)
    pid = str(place["id"])
    moved = Change(
        id="chg-5",
        kind="location",
        place_id=pid,
        reason="đo lại",
        lon=place.geometry.x + 0.001,
        lat=place.geometry.y,
        precision="exact",
        method="surveyed",
        measured="GPS",
    )
    notice = Change(id="chg-6", kind="notice", place_id=pid, reason="thông báo", notice="<b>Nghỉ</b> chiều nay")
    gone = _closure(id="chg-7", place_id="removed-place")
    overlay = overlay_points(index.service_points, [_closure(id="chg-4", place_id=pid), moved, notice, gone])
    row = overlay.points[overlay.points["id"] == pid].iloc[0]
    assert row["source"] == "staff" and row["change_ids"] == ["chg-4", "chg-5", "chg-6"]
    assert row.geometry.x == pytest.approx(place.geometry.x + 0.001)
    assert row["location_precision"] == "exact" and row["location_method"] == "surveyed"
    assert row["notices"][0]["text"] == "<b>Nghỉ</b> chiều nay"
    assert opening_state(row["opening_hours"], _at(TUESDAY, 14)).state == "closed"
    assert [c.id for c in overlay.orphans] == ["chg-7"]
    untouched = overlay.points[overlay.points["id"] != pid]
    assert (untouched["source"] == index.service_points[index.service_points["id"] != pid]["source"]).all()
    assert index.service_points[index.service_points["id"] == pid].iloc[0]["source"] != "staff"


def test_export_then_rebuild_gives_the_same_answers(tmp_path, settings, index) -> None:  # type: ignore[no-untyped-def]
    """`gandan staff export` folds the changes into service_points.csv; a build on it answers as the overlay."""
    import shutil
    from dataclasses import replace as replaced

    from geo.build import build_index
    from geo.changes import export_changes
    from geo.finder import Finder
    from geo.registry import POINTS_FILE

    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data, ignore=shutil.ignore_patterns("upstream"))
    points = index.service_points
    a, b, c = (str(points["id"].iloc[i]) for i in (0, 5, 9))
    soon = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    moved = points.iloc[9].geometry
    changes = [
        Change(
            id="chg-000001",
            kind="closure",
            place_id=a,
            reason="Họp",
            starts=soon + timedelta(hours=13),
            ends=soon + timedelta(hours=17),
            author="Lan",
        ),
        Change(
            id="chg-000002",
            kind="special_hours",
            place_id=b,
            reason="Trực",
            starts=soon,
            ends=soon + timedelta(days=1),
            hours="08:00-10:00",
            author="Lan",
        ),
        Change(
            id="chg-000003",
            kind="location",
            place_id=c,
            reason="Đo lại",
            lon=moved.x + 0.0004,
            lat=moved.y - 0.0003,
            precision="approximate",
            method="staff_map",
            measured="bản đồ",
            author="Lan",
        ),
        Change(id="chg-000004", kind="notice", place_id=a, reason="r", notice="Mang CCCD", author="Lan"),
        Change(
            id="chg-000005",
            kind="procedure_unavailable",
            place_id=b,
            reason="r",
            procedure="1.001193",
            starts=soon,
            ends=soon + timedelta(days=1),
            author="Lan",
        ),
    ]
    report = export_changes((settings.data_dir / POINTS_FILE).read_text("utf-8"), changes)
    assert [x.id for x in report.exported] == ["chg-000001", "chg-000004", "chg-000002", "chg-000003"]
    assert [x.id for x in report.kept] == ["chg-000005"]
    (data / POINTS_FILE).write_text(report.text, "utf-8")
    rebuilt = Finder(build_index(settings.model_copy(update={"data_dir": data}), write=False))
    live = Finder(replaced(index, service_points=overlay_points(index.service_points, changes).points))
    row = rebuilt.points.set_index("id").loc[a]
    assert "staff:chg-000001" in row["source"] and "Mang CCCD" in row["note"]
    assert rebuilt.points.set_index("id").loc[c, "location_method"] == "staff_map"
    for hours in (9, 14, 24 + 9, 24 + 14):
        at = soon + timedelta(hours=hours)
        for lon, lat in ((105.85, 21.03), (105.80, 21.06), (105.78, 20.98)):
            got = rebuilt.nearest(lon, lat, "1.001193", at, k=8)
            want = live.nearest(lon, lat, "1.001193", at, k=8)
            assert [(m.id, m.state.state, m.distance_m) for m in got.matches] == [
                (m.id, m.state.state, m.distance_m) for m in want.matches
            ]


_ENGLISH = re.compile(r"\b(the|is|are|and|not|no|give|say|name|write|must|needs|unknown|outside)\b", re.IGNORECASE)


def test_validation_says_what_is_wrong_in_vietnamese_with_english_beside(index) -> None:
    pid = str(_place(index)["id"])
    wrong = [
        _closure(place_id="nope", reason=" ", starts=None),
        _closure(place_id=pid, reason="x" * 1_001, ends=_at(TUESDAY, 12)),
        Change(id="", kind="special_hours", place_id=pid, reason="x", starts=TUESDAY, ends=_at(TUESDAY, 23)),
        Change(id="", kind="location", place_id=pid, reason="x", lon=21.03, lat=105.85),
        Change(id="", kind="location", place_id=pid, reason="x", lon=105.85, lat=21.03, precision="exact"),
        Change(id="", kind="procedure_unavailable", place_id=pid, reason="x"),
        Change(id="", kind="notice", place_id=pid, reason="x"),
        Change(id="", kind="undo", place_id=pid, reason="x", undoes="chg-9"),
    ]
    codes: set[str] = set()
    for change in wrong:
        with pytest.raises(DataValidationError) as info:
            validate_change(change, index.service_points, index.communes, index.procedures["code"])
        for problem in info.value.problems:
            assert problem.code in CATALOGUE and problem.column
            assert problem.message != problem.message_en
            assert not _ENGLISH.search(re.sub(r"'[^']*'|\([a-z_]+\)", "", problem.message)), problem.message
            texts = {"message": problem.message, "message_en": problem.message_en, "code": problem.code}
            assert problem.texts() == texts
            codes.add(str(problem.code))
    assert len(codes) >= 10
    with pytest.raises(DataValidationError) as info:
        validate_change(_closure(place_id=pid, starts=None), index.service_points, index.communes, [])
    [problem] = info.value.problems
    said = message("change_needs_range", kind="closure", kind_vi=change_kind_label("closure"))
    assert (problem.column, problem.message, problem.message_en) == ("starts", said.text, said.text_en)
