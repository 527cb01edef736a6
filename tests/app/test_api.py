"""The HTTP API through FastAPI's client: every endpoint and every problem type."""

from __future__ import annotations

import pytest

NEAREST = "/v1/nearest"
HOAN_KIEM = {"lat": 21.0285, "lon": 105.8542}
MONDAY_MORNING = "2026-03-02T09:30:00+07:00"


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"/problems/{slug}" and body["status"] == status and body["detail"]
    return body


def test_healthz(client) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["parts"]["index"] == "ok" and body["boundary_set"] == "hanoi-2025"


def test_nearest_geojson_contract(client) -> None:
    response = client.get(NEAREST, params={**HOAN_KIEM, "procedure": "1.001193", "at": MONDAY_MORNING, "k": 3})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 3
    assert body["query"]["at"] == "2026-03-02T09:30+07:00"
    assert body["procedure"]["code"] == "1.001193" and body["procedure"]["name"]
    distances = [f["properties"]["distance_m"] for f in body["features"]]
    assert distances == sorted(distances)
    first = body["features"][0]
    props = first["properties"]
    for key in ("id", "kind", "name", "address", "commune", "distance_m", "travel_time_s", "cost_basis", "state",
                "opens_at", "closes_at", "hours", "location_precision"):
        assert key in props
    assert props["state"] == "open" and props["closes_at"] == "2026-03-02T12:00+07:00"
    assert props["cost_basis"] == "straight_line" and props["travel_time_s"] is None
    assert props["location_precision"] == "approximate"
    lon, lat = first["geometry"]["coordinates"]
    assert 105 < lon < 106.1 and 20.5 < lat < 21.5  # GeoJSON order: lon, lat
    assert all(len(str(c).split(".")[-1]) <= 7 for c in (lon, lat))


def test_nearest_by_name_without_diacritics(client) -> None:
    body = client.get(NEAREST, params={**HOAN_KIEM, "procedure": "dang ky khai sinh", "at": MONDAY_MORNING}).json()
    assert body["procedure"]["code"] == "1.001193"


def test_nearest_at_night_returns_next_opening(client) -> None:
    body = client.get(NEAREST, params={**HOAN_KIEM, "procedure": "1.001193",
                                       "at": "2026-03-06T19:00:00+07:00"}).json()
    assert {f["properties"]["state"] for f in body["features"]} == {"closed"}
    assert body["features"][0]["properties"]["opens_at"] == "2026-03-09T08:00+07:00"  # Friday night → Monday


def test_outside_service_area(client) -> None:
    body = _problem(client.get(NEAREST, params={"lat": 10.77, "lon": 106.70, "procedure": "1.001193"}),
                    422, "outside-service-area")
    assert "outside Hanoi" in body["detail"]


def test_swapped_coordinates_are_named(client) -> None:
    body = _problem(client.get(NEAREST, params={"lat": 105.8542, "lon": 21.0285, "procedure": "1.001193"}),
                    422, "outside-service-area")
    assert "swapped" in body["detail"] and body["swapped"] is True


def test_unknown_procedure_with_close_matches(client) -> None:
    body = _problem(client.get(NEAREST, params={**HOAN_KIEM, "procedure": "dang ki khai sinh con"}),
                    404, "unknown-procedure")
    assert "1.001193" in body["suggestions"] and "khai sinh" in body["detail"]


@pytest.mark.parametrize("at", ["2026-03-02T09:30", "tomorrow", "2026-13-45T99:00+07:00"])
def test_bad_times(client, at: str) -> None:
    _problem(client.get(NEAREST, params={**HOAN_KIEM, "procedure": "1.001193", "at": at}), 422, "invalid-time")


@pytest.mark.parametrize("k", [0, 51, -3])
def test_k_out_of_range(client, k: int) -> None:
    _problem(client.get(NEAREST, params={**HOAN_KIEM, "procedure": "1.001193", "k": k}), 422, "invalid-parameter")


def test_missing_parameter_is_problem_json(client) -> None:
    body = _problem(client.get(NEAREST, params={"lat": 21.0}), 422, "invalid-parameter")
    assert "lon" in body["detail"] and "procedure" in body["detail"]


def test_unknown_route_is_problem_json(client) -> None:
    _problem(client.get("/v1/nothing-here"), 404, "not-found")


def test_procedures_search(client) -> None:
    found = client.get("/v1/procedures", params={"q": "dang ky khai sinh"}).json()
    assert found[0]["code"] == "1.001193" and found[0]["name"].startswith("Thủ tục đăng ký khai sinh")
    one = client.get("/v1/procedures/1.001193").json()
    assert one["handled_in_person_here"] is True and "commune_center" in one["handled_at"]
    _problem(client.get("/v1/procedures/9.999999"), 404, "unknown-procedure")


def test_communes(client) -> None:
    everything = client.get("/v1/communes").json()
    assert len(everything) == 126
    found = client.get("/v1/communes", params={"q": "ba dinh"}).json()
    assert [c["code"] for c in found] == ["00004"]
    feature = client.get("/v1/communes/00004").json()
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["full_name"] == "Phường Ba Đình"
    _problem(client.get("/v1/communes/99999"), 404, "not-found")


def test_locate_gives_commune_and_former_units(client) -> None:
    # Quán Thánh temple area: old Phường Quán Thánh, now Phường Ba Đình.
    body = client.get("/v1/locate", params={"lat": 21.0430, "lon": 105.8365}).json()
    assert body["commune"]["code"] == "00004"
    names = {u["name"] for u in body["former_units"]}
    assert "Phường Quán Thánh" in names
    assert body["likely_former_unit"]["precision"] == "approximate"
    _problem(client.get("/v1/locate", params={"lat": 0, "lon": 0}), 422, "outside-service-area")


def test_ogc_landing_conformance_collections(client) -> None:
    landing = client.get("/").json()
    assert {link["rel"] for link in landing["links"]} >= {"service-desc", "conformance", "data"}
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in client.get("/conformance").json()[
        "conformsTo"]
    ids = {c["id"] for c in client.get("/collections").json()["collections"]}
    assert ids == {"service_points", "communes", "legacy_units"}


def test_ogc_items_filters_and_paging(client) -> None:
    page = client.get("/collections/service_points/items", params={"limit": 10, "offset": 0}).json()
    assert page["numberReturned"] == 10 and page["numberMatched"] >= 130
    assert any(link["rel"] == "next" for link in page["links"])
    branches = client.get("/collections/service_points/items", params={"kind": "branch"}).json()
    assert branches["numberMatched"] == 3
    boxed = client.get("/collections/communes/items", params={"bbox": "105.84,21.02,105.86,21.04"}).json()
    assert "00070" in {f["id"] for f in boxed["features"]}
    one = client.get("/collections/communes/items/00004")
    assert one.headers["content-type"].startswith("application/geo+json") and one.json()["id"] == "00004"
    html = client.get("/collections/service_points/items", params={"f": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<table>" in html.text
    _problem(client.get("/collections/nowhere/items"), 404, "not-found")
    _problem(client.get("/collections/communes/items", params={"bbox": "1,2,3"}), 422, "invalid-parameter")
    _problem(client.get("/collections/communes/items", params={"colour": "red"}), 422, "invalid-parameter")


def test_openapi_is_served(client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/nearest" in spec["paths"] and "/collections/{collection_id}/items" in spec["paths"]


# ---------------------------------------------------------------------------------------------- catalogue


def test_procedure_detail_of_birth_registration(client) -> None:
    body = client.get("/v1/procedures/1.001193").json()
    names = [d["name"] for d in body["documents"]["submit"]]
    assert any("Giấy chứng sinh" in n for n in names)
    assert [c["kind"] for c in body["channels"]] == ["online", "post", "in_person"]
    assert all(c["time"] and c["time"] != "not stated" for c in body["channels"])
    assert body["portal_url"].startswith("https://dichvucong.gov.vn/")
    assert body["where"]["place"] == "pasc" and body["where"]["locations"] >= 126
    summary = body["summary"]
    assert summary["online"] is True and summary["text"].startswith("Có thể nộp trực tuyến tại https://")
    assert "Giấy chứng sinh" in summary["documents"] and body["handled_elsewhere"] is None
    assert body["legal_basis"] and body["applicants"]


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("giay phep karaoke", "1.001029"),
        ("Thủ tục đăng ký nhãn hiệu", "1.015002"),
        ("tro cap that nghiep", "1.014748"),
        ("1.001029", "1.001029"),
        ("dang ki khai sinh", "1.001193"),
        ("sổ đỏ", None),  # a synonym: the first hit is one of the land-certificate procedures
    ],
)
def test_search_the_whole_catalogue(client, q: str, code: str | None) -> None:
    found = client.get("/v1/procedures", params={"q": q, "limit": 5}).json()
    assert found, q
    first = found[0]
    assert first["match"] and first["matched"] and first["rank"] == 1 and "summary" in first
    if code is not None:
        assert first["code"] == code
    else:
        assert first["match"] == "synonym"


@pytest.mark.parametrize("q", ["", "   ", "x" * 500])
def test_blank_or_huge_procedure_search_is_a_problem(client, q: str) -> None:
    slug = "invalid-query" if len(q) < 10 else "invalid-parameter"
    assert _problem(client.get("/v1/procedures", params={"q": q}), 422, slug)["detail"]


def test_procedure_not_at_a_service_point_says_who_handles_it(client) -> None:
    detail = client.get("/v1/procedures/1.015002").json()  # a trademark: Cục Sở hữu trí tuệ
    elsewhere = detail["handled_elsewhere"]
    assert elsewhere["kind"] == "not_at_pasc" and "Sở hữu trí tuệ" in elsewhere["agency"]
    assert elsewhere["portal_url"].startswith("https://dichvucong.gov.vn/")
    body = client.get(NEAREST, params={**HOAN_KIEM, "procedure": "1.015002", "at": MONDAY_MORNING}).json()
    assert body["features"] == []
    assert body["handled_elsewhere"]["agency"] == elsewhere["agency"]
    assert body["handled_elsewhere"]["notes"][0]["code"] == "not_at_service_point"


def test_catalogue_procedure_at_the_city_center_has_places(client) -> None:
    body = client.get(NEAREST, params={**HOAN_KIEM, "procedure": "1.001029", "at": MONDAY_MORNING}).json()
    assert body["features"] and {f["properties"]["kind"] for f in body["features"]} <= {"city_center", "branch"}
    assert "handled_elsewhere" not in body and "summary" in body["procedure"]


def test_every_procedure_of_the_catalogue_has_a_readable_record(client, service) -> None:  # type: ignore[no-untyped-def]
    # Missing cells of the detail pages (NaN in parquet) once broke the response model of some records.
    codes = service.index.procedures["code"].astype(str).tolist()
    assert len(codes) >= 4000
    failed = [(c, r.status_code) for c in codes if (r := client.get(f"/v1/procedures/{c}")).status_code != 200]
    assert failed == []
