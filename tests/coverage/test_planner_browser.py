"""The planner's workspace in a real headless Chromium against a real uvicorn server, offline.

Driven like tests/test_map_browser.py: Debian's /usr/bin/chromium through Playwright, every request that
leaves 127.0.0.1 aborted (map tiles included: the page must work without them). Desktop and phone flows:
the city's presets, add / move / close a site and see the figures change, suggest and accept sites, every
download, scenario save and load, and the messages for bad input. Screenshots go to test-output/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
TIMEOUT_MS = 30_000




class Watch:
    """What went wrong in a page: requests leaving the machine, script errors, unexpected error statuses."""

    def __init__(self, page: Page, context: BrowserContext) -> None:
        self.external: list[str] = []
        self.statuses: list[str] = []
        self.page_errors: list[str] = []
        context.route("**/*", self._route)
        page.on("response", self._response)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.statuses.append(f"{response.status} {urlsplit(response.url).path}")

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname not in ("127.0.0.1", None) and not url.startswith(("data:", "blob:")):
            self.external.append(url)
            route.abort()  # tiles too: the page must not need them
        else:
            route.continue_()

    def assert_clean(self, allowed: tuple[str, ...] = ()) -> None:
        assert self.page_errors == [], f"script errors: {self.page_errors}"
        assert [s for s in self.statuses if s not in allowed] == [], f"error responses: {self.statuses}"
        assert all("tile" in u or "openstreetmap" in u for u in self.external), self.external


def _open(
    browser: Browser, url: str, settle: bool = True, **context_args: Any
) -> tuple[BrowserContext, Page, Watch]:
    context = browser.new_context(locale="vi-VN", accept_downloads=True, service_workers="block", **context_args)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = Watch(page, context)
    page.goto(url, wait_until="load")
    page.wait_for_selector("body[data-ready='1'][data-communes='126']")
    if settle:
        _settled(page)
    return context, page, watch


def _settled(page: Page) -> None:
    page.wait_for_function("document.body.dataset.busy === '0' && document.getElementById('pl-headline').dataset.share")


def _figures(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("() => ({...document.getElementById('pl-headline').dataset})"))


def _changes(page: Page) -> int:
    return int(page.evaluate("document.body.dataset.changes || '0'"))


def _click_at(page: Page, lat: float, lon: float, zoom: int = 13) -> None:
    """Click the map near (lat, lon) on a commune, not on a place or a control."""
    page.evaluate(f"() => {{ window.gandanPlanner.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}")
    point = page.evaluate(
        f"""() => {{
        const map = window.gandanPlanner.map, box = map.getContainer().getBoundingClientRect();
        const base = map.latLngToContainerPoint([{lat}, {lon}]);
        for (let r = 0; r < 200; r += 10) for (const [dx, dy] of [[0, 0], [r, 0], [0, r], [-r, 0], [0, -r]]) {{
            const x = box.left + base.x + dx, y = box.top + base.y + dy, hit = document.elementFromPoint(x, y);
            if (hit && hit.matches('path.leaflet-interactive')) return [x, y];
        }}
        return null; }}"""
    )
    assert point is not None, "no free spot on a commune near the target"
    page.mouse.click(point[0], point[1])


def _least_covered(page: Page) -> tuple[float, float]:
    """The centre of the commune with the smallest share covered today."""
    return tuple(page.evaluate(
        """() => { const p = window.gandanPlanner, rows = p.state.base.communes.slice();
        rows.sort((a, b) => a.share - b.share);
        let found = null;
        p.map.eachLayer((l) => { if (!found && l.feature && l.feature.id === rows[0].code) found = l; });
        const c = found.getBounds().getCenter(); return [c.lat, c.lng]; }"""
    ))


def _place_marker(page: Page) -> Any:
    """A today's-place marker fully inside the map and on top at its centre."""
    handle = page.evaluate_handle(
        """() => { const box = document.getElementById('pl-map').getBoundingClientRect();
        for (const m of document.querySelectorAll('.leaflet-marker-icon')) {
            const dot = m.querySelector('.pl-place'); if (!dot || dot.classList.length > 1) continue;
            const r = m.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            if (x < box.left + 60 || x > box.right - 280 || y < box.top + 60 || y > box.bottom - 160) continue;
            const hit = document.elementFromPoint(x, y);
            if (hit && m.contains(hit)) return m;
        }
        return null; }"""
    )
    element = handle.as_element()
    assert element is not None, "no place marker free to click"
    return element


def _download(page: Page, selector: str, tmp_path: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


# ------------------------------------------------------------------------------ desktop
def test_desktop_presets_what_if_siting_and_downloads(  # type: ignore[no-untyped-def]
    browser: Browser, base_url: str, tmp_path: Path, output_dir: Path
) -> None:
    context, page, watch = _open(browser, f"{base_url}/planner", **DESKTOP)
    try:
        assert page.evaluate("document.documentElement.lang") == "vi"
        assert page.locator("path.leaflet-interactive").count() == 126
        # The city's target by default: 5 km in a straight line; the 30-minute preset switches to motorbike.
        assert "5 km đường chim bay" in page.inner_text("#pl-headline")
        assert page.get_attribute("#pl-preset-5km", "aria-pressed") == "true"
        page.click("#pl-preset-30min")
        page.wait_for_function("document.getElementById('pl-headline').innerText.includes('30 phút đi xe máy')")
        _settled(page)
        assert page.is_checked("#pl-mode-motorbike") and page.input_value("#pl-threshold") == "30"
        honest = page.inner_text("#pl-honest")
        assert "dân số có chi phí được ước tính" in honest and "hệ số đường vòng" in honest
        assert 0 < float(_figures(page)["modelledShare"]) < 1
        assert "mode=motorbike" in page.url and "threshold=30" in page.url
        page.click("#pl-preset-5km")
        page.wait_for_function("document.getElementById('pl-headline').innerText.includes('5 km')")
        _settled(page)
        today = _figures(page)

        # Add a site by clicking in the least covered commune: the scenario covers more people.
        page.click("#pl-tool-add")
        lat, lon = _least_covered(page)
        _click_at(page, lat, lon)
        page.wait_for_function("document.body.dataset.changes === '1' && document.body.dataset.busy === '0'")
        added = _figures(page)
        assert int(added["scenarioCovered"]) > int(today["covered"])
        assert page.locator("#pl-scenario").is_visible() and page.locator(".pl-place.pl-added").count() == 1
        assert page.locator("#pl-table th[data-key=scenario]").count() == 1

        # Move a place by dragging it.
        page.click("#pl-tool-inspect")
        page.evaluate("() => { window.gandanPlanner.map.setView([21.03, 105.85], 12, {animate: false}); }")
        marker = _place_marker(page)
        box = marker.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y + 30, steps=8)
        page.mouse.up()
        page.wait_for_function("document.body.dataset.changes === '2' && document.body.dataset.busy === '0'")
        assert page.locator("#pl-changes li[data-action=move]").count() == 1

        # Close a place by clicking it: one place fewer in the scenario.
        page.click("#pl-tool-close")
        _place_marker(page).click()
        page.wait_for_function("document.body.dataset.changes === '3' && document.body.dataset.busy === '0'")
        assert page.locator("#pl-changes li[data-action=close]").count() == 1
        assert page.locator(".pl-place.pl-closed").count() == 1
        assert int(_figures(page)["scenarioCovered"]) <= int(added["scenarioCovered"])

        # Undo the close, then save the scenario (JSON and CSV) and load the JSON back after clearing.
        page.click("#pl-undo")
        page.wait_for_function("document.body.dataset.changes === '2' && document.body.dataset.busy === '0'")
        page.fill("#pl-scenario-name", "Thử nghiệm")
        saved_json = _download(page, "#pl-save-json", tmp_path)
        saved_csv = _download(page, "#pl-save-csv", tmp_path)
        body = json.loads(saved_json.read_text("utf-8"))
        assert body["name"] == "Thử nghiệm" and [c["action"] for c in body["changes"]] == ["add", "move"]
        assert saved_csv.read_text("utf-8-sig").splitlines()[0] == "action,id,lon,lat,kind,name"
        from geo.coverage import read_scenario

        assert read_scenario(saved_csv) == read_scenario(saved_json)  # the CLI reads both
        page.click("#pl-clear")
        page.wait_for_function("document.body.dataset.changes === '0' && document.body.dataset.busy === '0'")
        page.set_input_files("#pl-load", str(saved_json))
        page.wait_for_function("document.body.dataset.changes === '2' && document.body.dataset.busy === '0'")
        assert "Đã mở 2 thay đổi" in page.inner_text("#pl-message")

        # Suggest new sites and accept the first: it joins the scenario and the figure rises.
        before_sites = int(_figures(page)["scenarioCovered"])
        page.fill("#pl-k", "2")
        page.click("#pl-suggest")
        page.wait_for_selector("body[data-sites='2']")
        assert page.locator("#pl-sites li").count() == 2 and "thêm" in page.inner_text("#pl-sites li >> nth=0")
        page.locator("#pl-sites li >> nth=0 >> button").click()
        page.wait_for_function("document.body.dataset.changes === '3' && document.body.dataset.busy === '0'")
        assert int(_figures(page)["scenarioCovered"]) > before_sites

        # Every export downloads.
        for fmt, magic in (("csv", b"\xef\xbb\xbfcode"), ("gpkg", b"SQLite format 3"), ("png", b"\x89PNG"),
                           ("html", b"<!DOCTYPE html>")):
            path = _download(page, f"#pl-export-{fmt}", tmp_path)
            assert path.suffix == f".{fmt}" and path.read_bytes().startswith(magic), fmt
        assert "file://" not in (tmp_path / path.name).read_text("utf-8")

        # The table: filter, sort, click a row to zoom to the commune and see its detail.
        page.fill("#pl-filter", "hoan kiem")
        page.wait_for_function("document.getElementById('pl-table').dataset.rows === '1'")
        page.click("#pl-table tbody tr")
        info = page.inner_text("#pl-info")
        assert "Hoàn Kiếm" in info and "Dân số" in info and "Nơi phục vụ" in info and "Cách tính chi phí" in info
        page.fill("#pl-filter", "")
        page.click("#pl-table th[data-key=share]")
        assert page.get_attribute("#pl-table th[data-key=share]", "aria-sort") == "ascending"
        page.screenshot(path=str(output_dir / "planner-desktop-vi.png"))
        watch.assert_clean()
    finally:
        context.close()


def test_desktop_bad_input_is_a_message_on_the_page(browser: Browser, base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/planner?lang=en&mode=walk&threshold=9000"
    context, page, watch = _open(browser, url, settle=False, **DESKTOP)
    try:
        assert page.evaluate("document.documentElement.lang") == "en"
        message = page.locator("#pl-message")
        assert message.is_visible() and "from 0.5 to 300 min" in message.inner_text()
        page.fill("#pl-threshold", "abc")
        page.click("#pl-apply")
        assert "The threshold must be a number" in message.inner_text()
        page.click("#pl-preset-5km")
        _settled(page)
        # A site outside Hanoi: refused, with the reason, and the scenario stays empty.
        page.click("#pl-tool-add")
        page.evaluate("() => { window.gandanPlanner.map.setView([20.55, 106.02], 12, {animate: false}); }")
        box = page.locator("#pl-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function("document.getElementById('pl-message').innerText.includes('outside Hanoi')")
        assert _changes(page) == 0
        # A scenario file naming a place that does not exist, and one with bad rows.
        unknown = tmp_path / "unknown.csv"
        unknown.write_text("action,id,lon,lat,kind,name\nclose,nope,,,,\n", "utf-8")
        page.set_input_files("#pl-load", str(unknown))
        page.wait_for_function("document.getElementById('pl-message').innerText.includes('No place with id “nope”')")
        assert _changes(page) == 0
        bad = tmp_path / "bad.csv"
        bad.write_text("action,id,lon,lat,kind,name\nopen,N1,105.8,21.0,,\nadd,N2,,21.0,,\n", "utf-8")
        page.set_input_files("#pl-load", str(bad))
        page.wait_for_function("document.getElementById('pl-message').innerText.includes('2 problems')")
        text = message.inner_text()
        assert "bad.csv:2 [N1] action" in text and "bad.csv:3 [N2] lon" in text
        assert "problem+json" not in page.content() and '"type":' not in message.inner_text()
        watch.assert_clean(allowed=("422 /v1/coverage", "422 /v1/coverage/scenarios/read"))
    finally:
        context.close()


# ------------------------------------------------------------------------------ phone
def test_phone_layout_presets_what_if_and_siting(  # type: ignore[no-untyped-def]
    browser: Browser, base_url: str, tmp_path: Path, output_dir: Path
) -> None:
    context, page, watch = _open(browser, f"{base_url}/planner", **PHONE)
    try:
        # The legend and the info box both show, inside the map, and do not overlap.
        legend, info, mapbox = (page.locator(s).bounding_box() for s in ("#pl-legend", "#pl-info", "#pl-map"))
        assert mapbox["width"] == 390 and mapbox["height"] > 300
        apart = (legend["x"] + legend["width"] <= info["x"] or info["y"] + info["height"] <= legend["y"])
        assert apart, (legend, info)
        for box in (legend, info):
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        # The procedure list stays on the screen.
        page.fill("#pl-procedure", "khai sinh")
        page.wait_for_selector("#pl-procedure-options[data-query='khai sinh']:not([hidden])")
        options = page.locator("#pl-procedure-options").bounding_box()
        assert options["x"] >= 0 and options["x"] + options["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.locator("#pl-procedure-options [data-code='1.001193']").click()
        _settled(page)

        page.click("#pl-preset-30min")
        page.wait_for_function("document.getElementById('pl-headline').innerText.includes('30 phút')")
        _settled(page)
        page.click("#pl-preset-5km")
        page.wait_for_function("document.getElementById('pl-headline').innerText.includes('5 km')")
        _settled(page)
        today = _figures(page)
        page.click("#pl-tool-add")
        lat, lon = _least_covered(page)
        page.locator("#pl-map").scroll_into_view_if_needed()
        _click_at(page, lat, lon)
        page.wait_for_function("document.body.dataset.changes === '1' && document.body.dataset.busy === '0'")
        assert int(_figures(page)["scenarioCovered"]) > int(today["covered"])

        page.fill("#pl-k", "1")
        page.click("#pl-suggest")
        page.wait_for_selector("body[data-sites='1']")
        page.click("#pl-accept-all")
        page.wait_for_function("document.body.dataset.changes === '2' && document.body.dataset.busy === '0'")
        path = _download(page, "#pl-export-csv", tmp_path)
        assert path.read_bytes().startswith(b"\xef\xbb\xbfcode")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.locator("#pl-map").scroll_into_view_if_needed()
        page.screenshot(path=str(output_dir / "planner-phone-vi.png"))
        watch.assert_clean()
    finally:
        context.close()
