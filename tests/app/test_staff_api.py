"""The staff API (/v1/staff/…): sign-in and roles on every write route, validation, undo, limits, surfaces.

Runs on both staff storages (`staff_store` is parametrized: SQLite, and PostGIS via tests/conftest.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from geo.finder import Finder
from geo.hours import TZ
from geo.messages import CATALOGUE
from geo.service import Service
from geo.settings import Settings
from geo.store.staff import SqliteStaffStore, StaffStore

NASTY = "'; DROP TABLE changes; -- <script>alert('x')</script> & \"quoted\""
BIRTH = "1.001193"


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def staff_store(request: pytest.FixtureRequest, tmp_path: Path) -> StaffStore:
    """A fresh staff store of each kind."""
    if request.param == "sqlite":
        return SqliteStaffStore(tmp_path / "staff.sqlite")
    from geo.store.staff_pg import PostgisStaffStore
    from tests.store.test_staff import migrated_staff_url

    return PostgisStaffStore(migrated_staff_url(request.getfixturevalue("postgis_url")))


@pytest.fixture()
def staff_service(finder: Finder, settings: Settings, staff_store: StaffStore) -> Iterator[Service]:
    service = Service(finder, settings, staff=staff_store)
    yield service
    service.live.stop()  # before the store's database is dropped


@pytest.fixture()
def api(staff_service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(staff_service)) as client:
        yield client


@pytest.fixture()
def tokens(staff_store: StaffStore) -> dict[str, str]:
    """Bearer headers: an editor, another editor, an admin, an expired and a revoked token."""
    editor, _ = staff_store.create_token("Lan", "editor")
    other, _ = staff_store.create_token("Minh", "editor")
    admin, _ = staff_store.create_token("Hà", "admin")
    expired, _ = staff_store.create_token("Cũ", "editor", days=0)
    revoked, record = staff_store.create_token("Đi", "admin")
    staff_store.revoke_token(record.id, actor="test")
    return {"editor": editor, "other": other, "admin": admin, "expired": expired, "revoked": revoked}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _place(service: Service) -> str:
    """The place nearest the centre that handles birth registration."""
    return service.nearest(105.85, 21.03, BIRTH, datetime(2026, 3, 2, 9, tzinfo=TZ), k=1).matches[0].id


def few_places_procedure(service: Service) -> str:
    """A procedure only a few places handle: every one of them is in an answer of k=10, closed or not."""
    capable = service.backend.catalog.capable  # type: ignore[attr-defined]
    return min((len(rows), code) for code, rows in capable.items() if len(rows) > 1)[1]


def closure(place: str, **kw: Any) -> dict[str, Any]:
    now = datetime.now(TZ)
    return {
        "kind": "closure",
        "place_id": place,
        "reason": "Mất điện",
        "starts": (now - timedelta(hours=1)).isoformat(),
        "ends": (now + timedelta(hours=3)).isoformat(),
        **kw,
    }


# ============================================================================================ sign-in
def _write_operations(api: TestClient) -> list[tuple[str, str]]:
    spec = api.get("/openapi.json").json()
    return [
        (method, path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("post", "put", "patch", "delete") and path.startswith("/v1/staff")
    ]


ADMIN_ONLY = {("post", "/v1/staff/tokens"), ("post", "/v1/staff/tokens/{token_id}/revoke")}


def test_every_write_route_refuses_missing_bad_expired_revoked_and_wrong_role_tokens(
    api: TestClient, tokens: dict[str, str]
) -> None:
    operations = _write_operations(api)
    assert {(m, p) for m, p in operations} >= ADMIN_ONLY | {
        ("post", "/v1/staff/changes"),
        ("post", "/v1/staff/changes/{change_id}/undo"),
    }
    cases = {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {tokens['editor']}"},
        "malformed": bearer("nonsense"),
        "bad secret": bearer(tokens["editor"][:-3] + "xyz"),
        "expired": bearer(tokens["expired"]),
        "revoked": bearer(tokens["revoked"]),
    }
    api.app.state.staff_signin_limit.limit = 10_000  # this test fails on purpose many times
    for method, path in operations:
        url = path.replace("{change_id}", "chg-000001").replace("{token_id}", "abc")
        for case, headers in cases.items():
            r = api.request(method.upper(), url, headers=headers, json={})
            assert r.status_code == 401, (method, path, case, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert tokens["editor"] not in r.text
        if (method, path) in ADMIN_ONLY:
            r = api.request(method.upper(), url, headers=bearer(tokens["editor"]), json={})
            assert r.status_code == 403, (method, path, r.text)
    for path in ("/v1/staff/audit", "/v1/staff/tokens", "/v1/staff/me"):
        assert api.get(path).status_code == 401
    assert api.get("/v1/staff/tokens", headers=bearer(tokens["editor"])).status_code == 403


def test_failed_sign_ins_and_writes_are_rate_limited(
    finder: Finder, settings: Settings, staff_store: StaffStore, tokens: dict[str, str]
) -> None:
    service = Service(finder, settings, staff=staff_store)
    with TestClient(create_app(service, signin_per_minute=3, writes_per_minute=2)) as api:
        for _ in range(3):
            assert api.post("/v1/staff/changes", headers=bearer("gdn_x_y"), json={}).status_code == 401
        r = api.post("/v1/staff/changes", headers=bearer(tokens["editor"]), json={})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.headers["content-type"] == "application/problem+json"
    with TestClient(create_app(service, writes_per_minute=2)) as api:
        for _ in range(2):
            assert api.post("/v1/staff/changes", headers=bearer(tokens["editor"]), json={}).status_code == 422
        r = api.post("/v1/staff/changes", headers=bearer(tokens["editor"]), json={})
        assert r.status_code == 429 and "retry-after" in r.headers


def test_write_routes_send_no_cors_headers_and_tokens_are_never_logged(
    api: TestClient, tokens: dict[str, str], staff_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    origin = {"Origin": "https://evil.example"}
    r = api.post(
        "/v1/staff/changes", headers={**origin, **bearer(tokens["editor"])}, json=closure(_place(staff_service))
    )
    assert r.status_code == 201
    assert not any(h.lower().startswith("access-control-") for h in r.headers)
    pre = api.options(
        "/v1/staff/changes",
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert not any(h.lower().startswith("access-control-") for h in pre.headers)
    api.post("/v1/staff/changes", headers=bearer(tokens["revoked"]), json={})
    for token in tokens.values():
        assert token not in caplog.text
        assert token.split("_", 2)[2] not in caplog.text


# ============================================================================================ changes
def test_validation_names_each_field(api: TestClient, tokens: dict[str, str], staff_service: Service) -> None:
    h = bearer(tokens["editor"])
    r = api.post("/v1/staff/changes", headers=h, json={"kind": "closure", "place_id": "nope", "reason": " "})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    where = {e["where"] for e in r.json()["errors"]}
    assert {"body.place_id", "body.reason", "body.starts"} <= where
    for error in r.json()["errors"]:  # Vietnamese first, the English beside it, the catalogue's code
        vi, en = CATALOGUE[error["code"]]
        assert error["message"] != error["message_en"]
        assert error["message"].startswith(vi.split("{")[0]) and error["message_en"].startswith(en.split("{")[0])
        assert error["message_en"] in r.json()["detail"]
    place = _place(staff_service)
    r = api.post(
        "/v1/staff/changes",
        headers=h,
        json=closure(place, kind="special_hours", hours="25:00-26:00", starts="2026-12-01T08:00", ends="x"),
    )
    assert r.status_code == 422
    assert {e["where"] for e in r.json()["errors"]} >= {"body.ends"}
    r = api.post(
        "/v1/staff/changes",
        headers=h,
        json=closure(place, kind="special_hours", hours="25:00-26:00"),
    )
    assert [e["where"] for e in r.json()["errors"]] == ["body.hours"]
    far = {"kind": "location", "place_id": place, "reason": "đo lại", "lon": 105.3, "lat": 21.1}
    r = api.post("/v1/staff/changes", headers=h, json={**far, "precision": "exact", "method": "staff_map"})
    where = {e["where"] for e in r.json()["errors"]}
    assert {"body.precision", "body.measured", "body.lon"} <= where  # exact needs a survey; outside its commune
    r = api.post(
        "/v1/staff/changes",
        headers=h,
        json={
            **far,
            "precision": "approximate",
            "method": "staff_map",
            "measured": "map",
            "confirm_outside_commune": True,
        },
    )
    assert r.status_code == 201
    r = api.post(
        "/v1/staff/changes",
        headers=h,
        json={"kind": "procedure_unavailable", "place_id": place, "reason": "x", "procedure": "9.999999"},
    )
    assert [e["where"] for e in r.json()["errors"]] == ["body.procedure"]


def test_a_closure_shows_on_every_surface_with_its_reason_verbatim(
    api: TestClient, tokens: dict[str, str], staff_service: Service
) -> None:
    code = few_places_procedure(staff_service)
    place = str(staff_service.backend.points["id"].iloc[int(staff_service.backend.capable_rows(code)[0])])
    r = api.post("/v1/staff/changes", headers=bearer(tokens["editor"]), json=closure(place, reason=NASTY))
    assert r.status_code == 201 and r.json()["reason"] == NASTY
    change_id = r.json()["id"]
    assert staff_service.refresh() is True
    now = datetime.now(TZ).isoformat()
    body = api.get("/v1/nearest", params={"lon": 105.85, "lat": 21.03, "procedure": code, "k": 10, "at": now}).json()
    props = next(f["properties"] for f in body["features"] if f["id"] == place)
    expected_reason = NASTY.replace('"', "'")  # the opening_hours comment cannot hold double quotes
    assert props["state"] == "closed" and props["state_reason"] == expected_reason
    assert props["source"] == "staff" and props["change_ids"] == [change_id]
    points = api.get("/map/points.geojson", params={"at": now}).json()
    mapped = next(f["properties"] for f in points["features"] if f["id"] == place)
    assert mapped["state"] == "closed" and mapped["state_reason"] == expected_reason
    item = api.get(f"/collections/service_points/items/{place}").json()
    assert item["properties"]["source"] == "staff" and item["properties"]["change_ids"] == [change_id]
    listed = api.get("/v1/staff/changes").json()
    assert [c["reason"] for c in listed] == [NASTY]
    audit = api.get("/v1/staff/audit", headers=bearer(tokens["editor"]), params={"place": place}).json()
    assert audit[0]["reason"] == NASTY and audit[0]["actor"] == "Lan"
    assert api.get("/healthz").json()["changes_version"] >= 1
    # MCP: the same state, the reason with the place.
    import anyio
    from mcp import Client

    from app.mcp import build_server

    async def ask_mcp() -> Any:
        async with Client(build_server(staff_service)) as client:
            return await client.call_tool(
                "find_nearest_service_point",
                {"procedure": code, "lat": 21.03, "lon": 105.85, "at": now, "k": 10},
            )

    result = anyio.run(ask_mcp)
    mcp_places = result.structured_content["places"]
    mcp_place = next(p for p in mcp_places if p["id"] == place)
    assert (mcp_place["state"], mcp_place["state_reason"], mcp_place["change_ids"]) == (
        "closed",
        expected_reason,
        [change_id],
    )


def test_undo_own_or_as_admin(api: TestClient, tokens: dict[str, str], staff_service: Service) -> None:
    place = _place(staff_service)
    first = api.post("/v1/staff/changes", headers=bearer(tokens["editor"]), json=closure(place)).json()["id"]
    undo = {"reason": "nhầm"}
    r = api.post(f"/v1/staff/changes/{first}/undo", headers=bearer(tokens["other"]), json=undo)
    assert r.status_code == 403
    assert api.post(f"/v1/staff/changes/{first}/undo", headers=bearer(tokens["editor"]), json=undo).status_code == 201
    r = api.post(f"/v1/staff/changes/{first}/undo", headers=bearer(tokens["editor"]), json=undo)
    assert r.status_code == 422 and r.json()["errors"][0]["where"] == "body.undoes"
    second = api.post("/v1/staff/changes", headers=bearer(tokens["editor"]), json=closure(place)).json()["id"]
    assert api.post(f"/v1/staff/changes/{second}/undo", headers=bearer(tokens["admin"]), json=undo).status_code == 201
    assert api.get("/v1/staff/changes").json() == []
    assert len(api.get("/v1/staff/changes", params={"status": "all"}).json()) == 4
    actions = [e["action"] for e in api.get("/v1/staff/audit", headers=bearer(tokens["admin"])).json()]
    assert actions[:4] == ["change.undo", "change.closure", "change.undo", "change.closure"]
    assert api.post("/v1/staff/changes/chg-999999/undo", headers=bearer(tokens["admin"]), json=undo).status_code == 404


def test_procedure_unavailable_now_leaves_the_place_out(
    api: TestClient, tokens: dict[str, str], staff_service: Service
) -> None:
    place = _place(staff_service)
    now = datetime.now(TZ)
    body = {
        "kind": "procedure_unavailable",
        "place_id": place,
        "reason": "Máy in hỏng",
        "procedure": BIRTH,
        "starts": (now - timedelta(hours=1)).isoformat(),
        "ends": (now + timedelta(hours=1)).isoformat(),
    }
    assert api.post("/v1/staff/changes", headers=bearer(tokens["editor"]), json=body).status_code == 201
    staff_service.refresh()
    params = {"lon": 105.85, "lat": 21.03, "procedure": BIRTH, "k": 50}
    inside = api.get("/v1/nearest", params={**params, "at": now.isoformat()}).json()
    assert place not in [f["id"] for f in inside["features"]]
    later = api.get("/v1/nearest", params={**params, "at": (now + timedelta(hours=2)).isoformat()}).json()
    assert place in [f["id"] for f in later["features"]]
    points = api.get("/map/points.geojson", params={"procedure": BIRTH, "at": now.isoformat()}).json()
    assert place not in [f["id"] for f in points["features"]]


def test_tokens_by_api_for_admins(api: TestClient, tokens: dict[str, str]) -> None:
    h = bearer(tokens["admin"])
    r = api.post("/v1/staff/tokens", headers=h, json={"name": "Tú", "role": "editor", "days": 7})
    assert r.status_code == 201 and r.json()["token"].startswith("gdn_")
    new = r.json()
    listed = api.get("/v1/staff/tokens", headers=h).json()
    assert new["id"] in [t["id"] for t in listed] and all("token" not in t for t in listed)
    assert api.get("/v1/staff/me", headers=bearer(new["token"])).json()["name"] == "Tú"
    assert api.post(f"/v1/staff/tokens/{new['id']}/revoke", headers=h, json={"reason": "x"}).status_code == 200
    by_id = {t["id"]: t for t in api.get("/v1/staff/tokens", headers=h).json()}
    assert by_id[new["id"]]["revoked_at"] is not None and by_id[new["id"]]["active"] is False
    assert api.get("/v1/staff/me", headers=bearer(new["token"])).status_code == 401
