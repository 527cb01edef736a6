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
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from app.assets import install_web_assets
from app.main import create_app
from geo.finder import NearestResult
from geo.hours import parse_time

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
HOAN_KIEM = {"latitude": 21.0285, "longitude": 105.8542}
AT = "2026-03-02T09:30+07:00"  # a Monday morning: offices are open
AT_Q = quote(AT, safe="")
TIMEOUT_MS = 15_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(service) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real uvicorn server on a free loopback port, serving the app on the real index."""
    install_web_assets()  # no-op (milliseconds) when `make build` has installed them
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-map-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/test-services.sh"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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
