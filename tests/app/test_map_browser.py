"""The citizen map in a real headless Chromium against a real uvicorn server, offline.

Debian's /usr/bin/chromium (installed by scripts/test-services.sh) is driven through Playwright's Python
package; no browser is downloaded. Every request that leaves 127.0.0.1 is aborted: map tiles are
expected to fail (the page must work without them), anything else fails the test. Screenshots are left
in test-output/ (map-phone-start.png, map-phone-vi.png, map-phone-popup.png, map-desktop-en.png,
map-route-phone.png).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route

from geo.finder import NearestResult
from geo.hours import parse_time

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
HOAN_KIEM = {"latitude": 21.0285, "longitude": 105.8542}
AT = "2026-03-02T09:30+07:00"  # a Monday morning: offices are open
AT_Q = quote(AT, safe="")
TIMEOUT_MS = 15_000




def _tile_pattern(tile_url: str) -> re.Pattern[str]:
    """A regex matching the requests made for ``tile_url`` (an XYZ template)."""
    escaped = re.escape(tile_url)
    for name in ("z", "x", "y", "s", "r"):
        escaped = escaped.replace(re.escape("{" + name + "}"), "[^/?]*")
    return re.compile(escaped)


class Watch:
    """Everything that went wrong in a page, tiles apart."""

    def __init__(self, page: Page, context: BrowserContext, tiles: re.Pattern[str]) -> None:
        self.tiles = tiles
        self.tile_requests: list[str] = []
        self.external: list[str] = []
        self.failed: list[str] = []
        self.bad_status: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        context.route("**/*", self._route)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _route(self, route: Route) -> None:
        url = route.request.url
        if self.tiles.match(url):
            self.tile_requests.append(url)
            route.abort()  # offline: the page must not need the tiles
        elif urlsplit(url).hostname not in ("127.0.0.1", None) and not url.startswith("data:"):
            self.external.append(url)
            route.abort()
        else:
            route.continue_()

    def _failed(self, request: Any) -> None:
        if not self.tiles.match(request.url):
            self.failed.append(f"{request.url} {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.bad_status.append(f"{response.status} {response.url}")

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        if self.tiles.match(where) or ("Failed to load resource" in message.text and self.tiles.match(where or "")):
            return
        self.console_errors.append(f"{message.text} @ {where}")

    def assert_clean(self) -> None:
        assert self.external == [], f"requests left the machine: {self.external}"
        assert self.failed == [], f"failed requests: {self.failed}"
        assert self.bad_status == [], f"error responses: {self.bad_status}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.page_errors == [], f"script errors: {self.page_errors}"


def _open(  # type: ignore[no-untyped-def]
    browser: Browser, settings, url: str, routes: dict[Any, Any] | None = None, **context_args: Any
) -> tuple[BrowserContext, Page, Watch]:
    context = browser.new_context(
        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", service_workers="block", **context_args
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = Watch(page, context, _tile_pattern(settings.tile_url))
    for pattern, handler in (routes or {}).items():
        context.route(pattern, handler)  # registered later than the watch's catch-all: they win
    page.goto(url, wait_until="load")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("body[data-communes='126']")
    page.wait_for_selector("body[data-points]")
    return context, page, watch


def _choose_procedure(page: Page, typed: str, code: str) -> None:
    box = page.locator("#gandan-procedure")
    box.click()
    box.fill(typed)
    # The list says which text its options answer: wait for the answer to what was typed.
    page.wait_for_selector(f"#gandan-procedure-options[data-query='{typed}']:not([hidden])")
    option = page.locator(f"#gandan-procedure-options[data-query='{typed}'] [data-code='{code}']")
    option.wait_for(state="visible")
    option.click()
    page.wait_for_selector("#gandan-procedure-chosen:not([hidden])")


def _click_free_spot(page: Page, lat: float, lon: float, zoom: int = 14) -> None:
    """Click the map near (lat, lon) where no marker is: a tap on a marker opens its popup instead."""
    # Wrapped so the map object (a huge graph Playwright would serialise) is not returned.
    page.evaluate(f"() => {{ window.gandanMap.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}")
    point = page.evaluate(
        f"""() => {{
        const map = window.gandanMap.map;
        const box = map.getContainer().getBoundingClientRect();
        const base = map.latLngToContainerPoint([{lat}, {lon}]);
        for (let r = 0; r < 200; r += 12) {{
            for (const [dx, dy] of [[0, 0], [r, 0], [0, r], [-r, 0], [0, -r], [r, r], [-r, -r]]) {{
                const x = box.left + base.x + dx, y = box.top + base.y + dy;
                const hit = document.elementFromPoint(x, y);
                if (hit && map.getContainer().contains(hit)
                    && !hit.closest('.gandan-point, .leaflet-marker-icon, .leaflet-control, .leaflet-popup')) {{
                    return [x, y];
                }}
            }}
        }}
        return null;
    }}"""
    )
    assert point is not None, "no free spot to click near the target"
    page.mouse.click(point[0], point[1])


def test_phone_map_click_brings_results_offline(browser: Browser, base_url: str, settings, output_dir: Path) -> None:  # type: ignore[no-untyped-def]
    context, page, watch = _open(browser, settings, f"{base_url}/map?at={AT_Q}", **PHONE)
    try:
        assert page.evaluate("document.documentElement.lang") == "vi"
        # The communes are drawn although no tile loaded.
        assert page.locator("path.gandan-commune").count() == 126
        assert page.locator("path.gandan-point").count() == int(page.evaluate("document.body.dataset.points")) > 100
        assert watch.tile_requests, "the tile layer should have asked for tiles (and been refused)"
        page.screenshot(path=str(output_dir / "map-phone-start.png"))

        _choose_procedure(page, "khai sinh", "1.001193")
        assert "1.001193" in page.locator("#gandan-procedure-chosen").inner_text()
        # Only the offices that handle it stay on the map.
        page.wait_for_function("document.body.dataset.points !== '134'")

        box = page.locator(".folium-map").bounding_box()
        assert box is not None and box["height"] > 250 and box["width"] == 390  # phone: full width, on top
        started = time.perf_counter()
        _click_free_spot(page, HOAN_KIEM["latitude"], HOAN_KIEM["longitude"])
        page.wait_for_selector("#gandan-results .gandan-result")
        page.wait_for_function("!document.body.dataset.busy")
        elapsed = time.perf_counter() - started
        results = page.locator("#gandan-results .gandan-result")
        assert results.count() == 3
        assert page.locator(".leaflet-marker-pane .awesome-marker").count() == 3
        assert page.locator("path.gandan-ray").count() == 3  # straight-line mode: dashed rays
        text = results.first.inner_text()
        assert "vị trí gần đúng" in text
        assert "Hôm nay" in text and "Cách" in text
        assert "Đang mở cửa · đóng cửa lúc 12:00" in text  # Monday 09:30, the `at` of the address
        assert results.first.get_attribute("data-state") in ("open", "closed", "unknown")
        assert "lat=" in page.url and "procedure=1.001193" in page.url  # shareable address

        results.first.click()
        popup = page.locator(".leaflet-popup-content .gandan-popup")
        popup.wait_for(state="visible")
        assert "Địa chỉ" in popup.inner_text() and "Hôm nay" in popup.inner_text()
        page.wait_for_timeout(400)  # let the map finish panning to the popup
        page.screenshot(path=str(output_dir / "map-phone-popup.png"))
        page.evaluate("() => { window.gandanMap.map.closePopup(); }")
        page.wait_for_timeout(300)  # the popup fades out
        page.screenshot(path=str(output_dir / "map-phone-vi.png"))
        print(f"phone: click to drawn results {elapsed * 1000:.0f} ms")
        watch.assert_clean()
    finally:
        context.close()


def test_desktop_english_with_my_location(browser: Browser, base_url: str, settings, output_dir: Path) -> None:  # type: ignore[no-untyped-def]
    context, page, watch = _open(
        browser,
        settings,
        f"{base_url}/map?lang=en&at={AT_Q}",
        geolocation=HOAN_KIEM,
        permissions=["geolocation"],
        **DESKTOP,
    )
    try:
        assert page.evaluate("document.documentElement.lang") == "en"
        assert "Use my location" in page.locator("#gandan-locate").inner_text()
        _choose_procedure(page, "ket hon", "1.000894")  # no diacritics typed
        page.locator("#gandan-locate").click()
        page.wait_for_selector("#gandan-results .gandan-result")
        page.wait_for_function("!document.body.dataset.busy")
        results = page.locator("#gandan-results .gandan-result")
        assert results.count() == 3
        assert page.locator(".leaflet-marker-pane .awesome-marker").count() == 3
        first = results.first.inner_text()
        assert "approximate location" in first and "Today" in first
        assert "Open now" in first  # Monday 09:30 (the `at` of the address)
        assert "Today: 08:00–12:00, 13:00–17:00" in first
        assert "Hoàn Kiếm" in page.locator("#gandan-status").inner_text()  # the origin's commune
        page.screenshot(path=str(output_dir / "map-desktop-en.png"))
        watch.assert_clean()
    finally:
        context.close()


def _point_popup(page: Page) -> str:
    """Open the popup of a service point of the points layer, and return its text."""
    page.evaluate(
        """() => {
        const map = window.gandanMap.map;
        let marker = null;
        map.eachLayer((layer) => {
            if (!marker && layer.getPopup && layer.getPopup() && /gandan-point/.test(layer.options.className || "")) {
                marker = layer;
            }
        });
        map.setView(marker.getLatLng(), 14, {animate: false});
        marker.openPopup();
    }"""
    )
    popup = page.locator(".leaflet-popup-content .gandan-popup")
    popup.wait_for(state="visible")
    return popup.inner_text()


@pytest.mark.parametrize(
    ("lang", "at", "expected", "absent"),
    [
        ("en", "2026-02-17T09:30+07:00", "Today: Public holiday: Lunar New Year (Year of the Horse)", "Nghỉ lễ"),
        ("vi", "2026-02-17T09:30+07:00", "Hôm nay: Nghỉ lễ: Mùng 1 Tết Bính Ngọ", "Public holiday"),
        ("en", "2026-01-10T09:30+07:00", "Today: 08:00–12:00, 13:00–17:00 (Make-up working day for 2 January)", "bù"),
        ("vi", "2026-01-10T09:30+07:00", "Hôm nay: 08:00–12:00, 13:00–17:00 (Làm bù cho 2/1)", "Make-up"),
        ("en", "2026-01-17T09:30+07:00", "Today: Closed all day", "Không làm việc"),
    ],
)
def test_today_hours_in_the_page_language(  # type: ignore[no-untyped-def]
    browser: Browser, base_url: str, settings, lang: str, at: str, expected: str, absent: str
) -> None:
    """The day's hours are written by the page from data, in its own language (Tết, a make-up Saturday)."""
    context, page, watch = _open(browser, settings, f"{base_url}/map?lang={lang}&at={quote(at, safe='')}", **DESKTOP)
    try:
        text = _point_popup(page)
        assert expected in text
        assert absent not in text
        watch.assert_clean()
    finally:
        context.close()


def test_route_drawn_for_a_network_mode(browser: Browser, base_url: str, service, settings, output_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A network mode asks for routes and draws each LineString of the GeometryCollection.

    The answer is the service's own GeoJSON (`Service.to_feature_collection`) for a real straight-line
    result with routes set, so the test does not depend on the road network being built.
    """
    lat, lon = HOAN_KIEM["latitude"], HOAN_KIEM["longitude"]
    straight = service.nearest(lon, lat, "1.001193", parse_time(AT), k=3)
    matches = []
    for m in straight.matches:
        px, py = service.backend.points.geometry.x.iat[m.row], service.backend.points.geometry.y.iat[m.row]
        route = [(lon, lat), (lon, py), (px, py)]  # an L-shaped "street" path
        matches.append(replace(m, cost_basis="network", travel_time_s=600.0 + m.row, route=route))
    body = service.to_feature_collection(NearestResult(**{**straight.__dict__, "mode": "walk", "matches": matches}))
    assert body["features"][0]["geometry"]["type"] == "GeometryCollection"
    asked: list[str] = []

    def fulfil(route: Route) -> None:
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="application/geo+json", body=json.dumps(body))

    context, page, watch = _open(
        browser,
        settings,
        f"{base_url}/map?at={AT_Q}&procedure=1.001193&mode=walk&lat={lat}&lon={lon}",
        routes={re.compile(r"/v1/nearest\?.*route=true"): fulfil},
        **PHONE,
    )
    try:
        # The address preselects procedure, place and mode: the page asks at once.
        page.wait_for_selector("path.gandan-route")
        page.wait_for_function("!document.body.dataset.busy")
        assert asked and "mode=walk" in asked[-1] and "procedure=1.001193" in asked[-1]
        assert page.locator("#gandan-mode-walk").is_checked()
        assert page.locator("path.gandan-route").count() == 3
        # The map shows the answer (an answer arriving during the first zoom must not be lost).
        assert page.evaluate("() => window.gandanMap.map.getZoom()") >= 13
        assert page.locator("path.gandan-ray").count() == 0
        assert page.locator(".leaflet-marker-pane .awesome-marker").count() == 3
        assert "OpenStreetMap contributors (ODbL)" in page.locator(".leaflet-control-attribution").inner_text()
        assert "phút đi bộ" in page.locator("#gandan-results").inner_text()
        page.screenshot(path=str(output_dir / "map-route-phone.png"))
        watch.assert_clean()
    finally:
        context.close()


# ------------------------------------------------------------------------------ the first tap
def _office_near(page: Page, lat: float, lon: float) -> dict[str, Any]:
    """The office dot drawn nearest (lat, lon): its screen position, place and popup name, and how
    many dots lie within 40 px of it."""
    return page.evaluate(  # type: ignore[no-any-return]
        f"""() => {{
        const map = window.gandanMap.map;
        const box = map.getContainer().getBoundingClientRect();
        const target = map.latLngToContainerPoint([{lat}, {lon}]);
        const dots = [];
        map.eachLayer((layer) => {{
            if (layer instanceof L.CircleMarker && /gandan-point/.test(layer.options.className || "")) {{
                dots.push(layer);
            }}
        }});
        let best = null;
        for (const layer of dots) {{
            const p = map.latLngToContainerPoint(layer.getLatLng());
            if (!best || p.distanceTo(target) < best.p.distanceTo(target)) best = {{layer, p}};
        }}
        const near = dots.filter((l) => map.latLngToContainerPoint(l.getLatLng()).distanceTo(best.p) < 40).length;
        const x = box.left + best.p.x, y = box.top + best.p.y;
        // Is the dot drawn under that pixel (what a tap there would have hit before)?
        const drawn = [...document.querySelectorAll("path.gandan-point")].some((el) => {{
            const r = el.getBoundingClientRect();
            return r.left <= x && x <= r.right && r.top <= y && y <= r.bottom;
        }});
        const html = document.createElement("div");
        html.innerHTML = best.layer.getPopup().getContent();
        return {{x, y, lat: best.layer.getLatLng().lat, lon: best.layer.getLatLng().lng, near, drawn,
                 name: html.querySelector(".gandan-name").textContent}};
    }}"""
    )


def _set_view(page: Page, lat: float, lon: float, zoom: int) -> None:
    page.evaluate(f"() => {{ window.gandanMap.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}")


def _tap(page: Page, device: str, x: float, y: float) -> None:
    if device == "phone":
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)


def _origin(page: Page) -> tuple[float, float] | None:
    query = dict(part.split("=", 1) for part in urlsplit(page.url).query.split("&") if "=" in part)
    return (float(query["lat"]), float(query["lon"])) if "lat" in query else None


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_first_tap_on_the_crowded_centre_sets_the_starting_point(  # type: ignore[no-untyped-def]
    browser: Browser, base_url: str, settings, output_dir: Path, device: str
) -> None:
    """At the opening view the dots cover central Hanoi: a tap there sets the starting point, no popup."""
    device_args = PHONE if device == "phone" else DESKTOP
    context, page, watch = _open(browser, settings, f"{base_url}/map?at={AT_Q}", **device_args)
    try:
        assert page.evaluate("() => window.gandanMap.map.getZoom()") <= 11  # the whole city
        _choose_procedure(page, "khai sinh", "1.001193")
        page.wait_for_function("document.body.dataset.points !== '134'")
        assert page.evaluate("document.body.dataset.pointTaps") == "origin"
        office = _office_near(page, HOAN_KIEM["latitude"], HOAN_KIEM["longitude"])
        assert office["drawn"], "no office dot under the tap: the test would prove nothing"
        assert office["near"] >= 5, office  # crowded
        page.screenshot(path=str(output_dir / f"map-{device}-first-tap.png"))

        _tap(page, device, office["x"], office["y"])
        page.wait_for_selector("path.gandan-origin, .leaflet-popup")
        assert page.locator(".leaflet-popup").count() == 0, "an office popup swallowed the tap"
        page.wait_for_selector("#gandan-results .gandan-result")
        page.wait_for_function("!document.body.dataset.busy")
        assert page.locator("path.gandan-origin").count() == 1
        origin = _origin(page)
        assert origin is not None
        assert abs(origin[0] - office["lat"]) < 0.01 and abs(origin[1] - office["lon"]) < 0.01
        results = page.locator("#gandan-results .gandan-result")
        assert results.count() == 3
        assert office["name"] in results.first.inner_text()  # the office tapped on is the nearest

        # Its details: from the result list ...
        results.first.click()
        popup = page.locator(".leaflet-popup-content .gandan-popup")
        popup.wait_for(state="visible")
        assert office["name"] in popup.inner_text() and "Địa chỉ" in popup.inner_text()
        page.evaluate("() => { window.gandanMap.map.closePopup(); }")
        page.wait_for_selector(".leaflet-popup", state="detached")  # it fades out
        # ... or, zoomed in with a starting point set, by a tap on another office's dot.
        far = _office_near(page, 21.0380, 105.7820)  # Cầu Giấy, ~7 km west: not one of the results
        _set_view(page, far["lat"], far["lon"], 15)
        assert page.evaluate("document.body.dataset.pointTaps") == "popup"
        far = _office_near(page, far["lat"], far["lon"])
        _tap(page, device, far["x"], far["y"])
        popup.wait_for(state="visible")
        assert far["name"] in popup.inner_text() and "Hôm nay" in popup.inner_text()
        assert _origin(page) == origin  # the starting point stayed
        watch.assert_clean()
    finally:
        context.close()


def test_first_tap_sets_the_starting_point_when_zoomed_in_too(browser: Browser, base_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    """Zoomed in before any starting point: a tap on a dot still sets the starting point."""
    context, page, watch = _open(browser, settings, f"{base_url}/map?at={AT_Q}", **PHONE)
    try:
        _set_view(page, HOAN_KIEM["latitude"], HOAN_KIEM["longitude"], 16)
        office = _office_near(page, HOAN_KIEM["latitude"], HOAN_KIEM["longitude"])
        assert office["drawn"]
        _tap(page, "phone", office["x"], office["y"])
        page.wait_for_selector("path.gandan-origin, .leaflet-popup")
        assert page.locator(".leaflet-popup").count() == 0, "an office popup swallowed the tap"
        assert page.locator("path.gandan-origin").count() == 1
        assert "Chọn thủ tục" in page.locator("#gandan-status").inner_text()  # next: the procedure
        assert page.evaluate("document.body.dataset.pointTaps") == "popup"  # from now on, details
        watch.assert_clean()
    finally:
        context.close()


# ------------------------------------------------------------------- no English on the Vietnamese page
# What Leaflet and the browser say in English unless the page replaces it.
FOREIGN_TEXTS = (
    *("Zoom in", "Zoom out", "Layers", "Close popup", "A JavaScript library"),  # Leaflet
    *("User denied", "Geolocation", "Failed to fetch"),  # the browser
)
ENGLISH_WORDS = re.compile(
    r"\b(the|and|your|open|closed|now|today|distance|address|location|search|failed|error|denied|straight)\b", re.I
)
NOTES = [
    {"code": "straight_line_fallback", "text": "Khoảng cách theo đường chim bay", "text_en": "Straight-line distances"},
    "ghi chú dạng chuỗi",  # a plain string, as the API gave before notes carried both languages
]


def _with_notes(route: Route) -> None:
    """Answer /v1/nearest as the server does, with NOTES as its notes."""
    response = route.fetch()
    body = response.json()
    body["notes"] = NOTES
    route.fulfill(response=response, json=body)


def _shown_texts(page: Page) -> dict[str, str]:
    """Every text the page shows or announces: ``text`` (the panel, popups, controls) and ``labels``
    (title, aria-label, placeholder, alt). Left out: scripts, parts marked as another language (the
    language switch), and the map data's attribution (a licence notice, kept as the licensor words it)."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => {
        const root = document.body.cloneNode(true);
        root.querySelectorAll("script, style, [lang]:not([lang='vi'])").forEach((el) => el.remove());
        const labels = [];
        root.querySelectorAll("*").forEach((el) => {
            for (const name of ["title", "aria-label", "placeholder", "alt"]) {
                if (el.getAttribute(name)) labels.push(el.getAttribute(name));
            }
        });
        root.querySelectorAll(".leaflet-control-attribution").forEach((el) => el.remove());
        return {text: root.textContent.replace(/\\s+/g, " "), labels: labels.join(" | ")};
    }"""
    )


def _english_only_fragments() -> list[str]:
    """Pieces of the English texts of strings.toml that differ from the Vietnamese ones."""
    from app.routes.pages import STRINGS

    fragments = set()
    for key, english in STRINGS["en"].items():
        if english == STRINGS["vi"][key] or key.startswith(("planner_", "lang_switch")):
            continue
        for piece in re.split(r"\{[a-z_]+\}", english):
            piece = piece.strip(" .,:;()«»“”")
            if len(piece) >= 4 and piece not in STRINGS["vi"].values():
                fragments.add(piece)
    return sorted(fragments)


def test_vietnamese_page_shows_no_english(browser: Browser, base_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    """Location refused, a search, notes, a popup: every text on the Vietnamese page is Vietnamese."""
    from app.routes.pages import STRINGS

    context, page, watch = _open(
        browser, settings, f"{base_url}/map?at={AT_Q}", routes={re.compile(r"/v1/nearest\?"): _with_notes}, **PHONE
    )
    try:
        page.locator("#gandan-locate").click()  # no permission granted: the browser refuses
        page.wait_for_selector("#gandan-status.gandan-error")
        status = page.locator("#gandan-status").inner_text()
        assert status == STRINGS["vi"]["locate_failed"].format(reason=STRINGS["vi"]["locate_denied"])
        seen = [_shown_texts(page)]

        _choose_procedure(page, "khai sinh", "1.001193")
        _click_free_spot(page, HOAN_KIEM["latitude"], HOAN_KIEM["longitude"])
        page.wait_for_selector("#gandan-results .gandan-result")
        page.wait_for_function("!document.body.dataset.busy")
        notes = page.locator("#gandan-notes").inner_text()
        assert notes == "Ghi chú: Khoảng cách theo đường chim bay ghi chú dạng chuỗi"
        page.locator("#gandan-results .gandan-result").first.click()
        page.locator(".leaflet-popup-content .gandan-popup").wait_for(state="visible")
        seen.append(_shown_texts(page))
        close = page.locator(".leaflet-popup-close-button")
        assert close.get_attribute("aria-label") == STRINGS["vi"]["close_popup"]
        assert page.locator(".leaflet-control-zoom-in").get_attribute("title") == STRINGS["vi"]["zoom_in"]
        assert page.locator(".leaflet-control-layers-toggle").get_attribute("title") == STRINGS["vi"]["layers"]

        fragments = _english_only_fragments()
        assert len(fragments) > 50
        for shown in seen:
            for where in ("text", "labels"):
                found = [f for f in (*fragments, *FOREIGN_TEXTS) if f in shown[where]]
                assert found == [], f"English in the Vietnamese page's {where}: {found}"
                words = ENGLISH_WORDS.findall(shown[where])
                assert words == [], f"English words in the Vietnamese page's {where}: {words}"
        watch.assert_clean()
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_geolocation_refusal_in_the_page_language(browser: Browser, base_url: str, settings, lang: str) -> None:  # type: ignore[no-untyped-def]
    from app.routes.pages import STRINGS

    context, page, watch = _open(browser, settings, f"{base_url}/map?lang={lang}&at={AT_Q}", **DESKTOP)
    try:
        page.locator("#gandan-locate").click()
        page.wait_for_selector("#gandan-status.gandan-error")
        status = page.locator("#gandan-status").inner_text()
        assert status == STRINGS[lang]["locate_failed"].format(reason=STRINGS[lang]["locate_denied"])
        assert "User denied" not in status and "Geolocation" not in status
        watch.assert_clean()
    finally:
        context.close()


def test_english_page_shows_the_english_notes(browser: Browser, base_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    lat, lon = HOAN_KIEM["latitude"], HOAN_KIEM["longitude"]
    context, page, watch = _open(
        browser,
        settings,
        f"{base_url}/map?lang=en&at={AT_Q}&procedure=1.001193&lat={lat}&lon={lon}",
        routes={re.compile(r"/v1/nearest\?"): _with_notes},
        **DESKTOP,
    )
    try:
        page.wait_for_selector("#gandan-notes:not([hidden])")
        assert page.locator("#gandan-notes").inner_text() == "Notes: Straight-line distances ghi chú dạng chuỗi"
        watch.assert_clean()
    finally:
        context.close()


@pytest.mark.parametrize(
    ("lang", "answer", "expected"),
    [
        ("vi", "crash", "Không tìm được: máy chủ báo lỗi 500. Hãy thử lại sau."),
        ("en", "crash", "Search failed: an unexpected error occurred; it was logged"),
        ("vi", "unreachable", "Không kết nối được máy chủ."),
        ("en", "unreachable", "Cannot reach the server."),
    ],
)
def test_failed_search_is_said_in_the_page_language(  # type: ignore[no-untyped-def]
    browser: Browser, base_url: str, settings, lang: str, answer: str, expected: str
) -> None:
    """A server error (its explanation is English) or no connection: the page's own words."""
    problem = {
        "type": "/problems/internal-error",
        "status": 500,
        "detail": "an unexpected error occurred; it was logged",
    }

    def fail(route: Route) -> None:
        if answer == "crash":
            route.fulfill(status=500, content_type="application/problem+json", body=json.dumps(problem))
        else:
            route.abort("connectionrefused")

    lat, lon = HOAN_KIEM["latitude"], HOAN_KIEM["longitude"]
    context, page, watch = _open(
        browser,
        settings,
        f"{base_url}/map?lang={lang}&at={AT_Q}&procedure=1.001193&lat={lat}&lon={lon}",
        routes={re.compile(r"/v1/nearest\?"): fail},
        **DESKTOP,
    )
    try:
        page.wait_for_selector("#gandan-status.gandan-error")
        assert page.locator("#gandan-status").inner_text() == expected
        assert watch.page_errors == [] and watch.external == []
    finally:
        context.close()


def test_procedure_panel_shows_what_to_bring_and_who_handles_it(browser: Browser, base_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    for lang, bring, online, handled in (
        ("vi", "Cần mang", "Nộp trực tuyến", "Nơi giải quyết: Cục Sở hữu trí tuệ"),
        ("en", "Bring", "File online", "Handled by: Cục Sở hữu trí tuệ"),
    ):
        context, page, _watch = _open(browser, settings, f"{base_url}/map?at={AT_Q}&lang={lang}", **PHONE)
        try:
            _choose_procedure(page, "khai sinh", "1.001193")
            chosen = page.locator("#gandan-procedure-chosen")
            text = chosen.inner_text()
            assert bring in text and "Giấy chứng sinh" in text and online in text, text
            assert chosen.locator("a[href^='https://dichvucong.gov.vn/']").count() == 1
            _choose_procedure(page, "nhan hieu", "1.015002")  # a trademark: not at any office
            text = page.locator("#gandan-procedure-chosen").inner_text()
            assert handled in text, text
        finally:
            context.close()
