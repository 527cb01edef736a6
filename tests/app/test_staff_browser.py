"""The staff page (/staff) and the map's popups in a real headless Chromium (as tests/test_map_browser.py).

Sign in with a token, find a place, drag its marker, close it with a reason full of HTML and SQL, see the
audit (the reason shown as text, never run), undo; errors on the page as sentences, never raw JSON; the
closed place's popup on /map shows the reason escaped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import uvicorn
from playwright.sync_api import Browser, Page

from app.assets import install_web_assets
from app.main import create_app
from app.routes.pages import STRINGS
from geo.finder import Finder
from geo.hours import TZ
from geo.messages import Message, change_kind_label, message
from geo.service import Service
from geo.settings import Settings
from geo.store.staff import SqliteStaffStore
from tests.app.test_map_browser import DESKTOP, TIMEOUT_MS
from tests.conftest import free_port

pytestmark = pytest.mark.browser

NASTY = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> \'; DROP TABLE changes; --'


@pytest.fixture(scope="module")
def staff_server(finder: Finder, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    install_web_assets()
    store = SqliteStaffStore(Path(tmp_path_factory.mktemp("staff")) / "staff.sqlite")
    service = Service(finder, settings, staff=store)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-staff-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store, service
    server.should_exit = True
    thread.join(timeout=10)


def _page(browser: Browser, url: str, ready: str = "body[data-ready=yes]") -> tuple[Page, list[str]]:
    """``url`` in a new desktop page (tiles blocked), once ``ready`` shows; with the page's errors and dialogs."""
    context = browser.new_context(**DESKTOP)
    context.route("**/tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("dialog", lambda dialog: (problems.append("dialog: " + dialog.message), dialog.dismiss()))
    page.goto(url)
    page.wait_for_selector(ready)
    return page, problems


def _status(page: Page) -> str:
    page.wait_for_function("() => document.getElementById('staff-status').textContent.length > 0")
    return page.locator("#staff-status").inner_text()


def test_sign_in_move_close_audit_and_undo(staff_server: tuple, browser: Browser, output_dir: Path) -> None:
    url, store, _service = staff_server
    token, _ = store.create_token("Lan", "editor")
    page, problems = _page(browser, f"{url}/staff")
    assert page.locator("html").get_attribute("lang") == "vi"
    # A wrong token: the page says so in words.
    page.fill("#staff-token", "gdn_wrong_token")
    page.click("#staff-signin-form button")
    text = _status(page)
    assert "Mã đăng nhập không đúng" in text and "Sign-in required" not in text and "{" not in text
    page.fill("#staff-token", token)
    page.click("#staff-signin-form button")
    page.wait_for_selector("body[data-signed-in=yes]")
    assert page.evaluate("sessionStorage.getItem('gandan-staff-token')") == token
    # Find a place and drag its marker a little.
    page.fill("#staff-search", "Tây Hồ")
    page.wait_for_selector("#staff-places li[data-id]")
    place_id = page.locator("#staff-places li[data-id]").first.get_attribute("data-id")
    page.locator("#staff-places li[data-id]").first.click()
    page.wait_for_selector(f"body[data-place='{place_id}']")
    page.wait_for_timeout(800)  # the map flies to the place: drag once it is still
    marker = page.locator(".leaflet-marker-icon").first
    box = marker.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 20, steps=8)
    page.mouse.up()
    page.wait_for_selector("body[data-moved]")
    page.fill("#staff-measured", "chọn trên bản đồ, theo ảnh vệ tinh")
    page.fill("#staff-location-reason", "Cửa vào ở phía đông")
    page.check("#staff-confirm-outside")
    page.click("#staff-location-form button")
    assert "Đã lưu" in _status(page)
    # Missing dates: every invalid field listed, as text.
    page.evaluate("document.getElementById('staff-status').textContent = ''")
    page.fill("#staff-hours-reason", "x")
    page.click("#staff-hours-form button")
    text = _status(page)
    assert f"{STRINGS['vi']['staff_field_starts']}: {_needs_range().text}" in text
    assert "starts" not in text and "{" not in text
    # A closure with HTML and SQL in its reason.
    now = datetime.now(TZ)
    page.fill("#staff-starts", (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#staff-ends", (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#staff-hours-reason", NASTY)
    page.evaluate("document.getElementById('staff-status').textContent = ''")
    page.click("#staff-hours-form button")
    assert "Đã lưu" in _status(page)
    # The audit reloads after the save's answer: wait for the closure's row, not for any two rows (the
    # token's creation is a row too, so two rows can be on the page before the closure's is).
    page.wait_for_function(
        "(reason) => [...document.querySelectorAll('#staff-audit tbody td')].some((td) => td.textContent === reason)",
        arg=NASTY,
    )
    reasons = page.locator("#staff-audit tbody tr td:nth-child(4)").all_inner_texts()
    assert NASTY in reasons
    assert page.evaluate("window.pwned") is None and problems == []
    assert page.locator("#staff-audit img, #staff-audit script").count() == 0
    page.screenshot(path=str(output_dir / "staff-desktop.png"))
    # Undo the closure.
    closure_id = store.changes()[-1].id
    page.fill("#staff-undo-reason", "nhầm giờ")
    page.locator(f"#staff-audit button[data-change='{closure_id}']").click()
    assert closure_id in _status(page)
    assert [c.kind for c in store.changes()] == ["location", "closure", "undo"]
    # English switch.
    page.click("#staff-lang")
    page.wait_for_selector("body[data-ready=yes]")
    assert page.locator("html").get_attribute("lang") == "en" and "Sign in" in page.content()
    # The English page says what is wrong in English, the field named as its form names it.
    page.wait_for_selector("body[data-signed-in=yes]")
    page.fill("#staff-search", "Tây Hồ")
    page.locator("#staff-places li[data-id]").first.click()
    page.fill("#staff-hours-reason", "x")
    page.click("#staff-hours-form button")
    text = _status(page)
    assert f"{STRINGS['en']['staff_field_starts']}: {_needs_range().text_en}" in text
    assert _needs_range().text not in text and "{" not in text


def _needs_range() -> Message:
    """What the API says of a closure submitted without its dates."""
    return message("change_needs_range", kind="closure", kind_vi=change_kind_label("closure"))


def test_a_reason_is_shown_escaped_in_the_map_popup(staff_server: tuple, browser: Browser) -> None:
    url, store, service = staff_server
    place = str(service.backend.points["id"].iloc[0])
    now = datetime.now(TZ)
    from geo.changes import Change

    store.add_change(
        Change(
            id="",
            kind="closure",
            place_id=place,
            reason=NASTY,
            starts=now - timedelta(hours=1),
            ends=now + timedelta(hours=2),
        ),
        actor="Lan",
    )
    service.refresh()
    at = quote(now.isoformat(timespec="minutes"), safe="")
    page, problems = _page(browser, f"{url}/map?at={at}", ready="body[data-points]")
    name = str(service.backend.points["name"].iloc[0])
    text = page.evaluate(
        """(name) => {
        const map = window.gandanMap.map;
        let marker = null;
        map.eachLayer((layer) => {
            const popup = layer.getPopup && layer.getPopup();
            if (!marker && popup && String(popup.getContent()).includes(name)) { marker = layer; }
        });
        map.setView(marker.getLatLng(), 14, {animate: false});
        marker.openPopup();
        return document.querySelector('.leaflet-popup-content .gandan-popup').innerText;
    }""",
        name,
    )
    assert NASTY.replace('"', "'") in text
    assert page.locator(".leaflet-popup-content img, .leaflet-popup-content script").count() == 0
    assert page.evaluate("window.pwned") is None and problems == []
