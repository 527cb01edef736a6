"""The map's notes in headless Chromium: the page language picks a note's ``text`` or ``text_en``, offline.

At 23:00 on a Sunday with "only open places" nothing is open: the page still lists the nearest offices
and its notes say, in the page's language, that everything is closed and which office reopens first.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, Route

pytestmark = pytest.mark.browser

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SUNDAY_NIGHT = quote("2026-03-08T23:00+07:00", safe="")
ENGLISH = re.compile(r"\b(the|is|are|every|closed|open|place|places|nothing|earliest)\b", re.IGNORECASE)


def _offline(route: Route) -> None:
    if urlsplit(route.request.url).hostname in ("127.0.0.1", None):
        route.continue_()
    else:
        route.abort()  # tiles and anything else outside: the page must not need them


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", ["mọi nơi nhận thủ tục này đều đóng cửa", "08:00 thứ Hai 09/03/2026", "những nơi gần nhất"]),
        ("en", ["every place that handles this procedure is closed", "08:00 Monday 09/03/2026", "nearest places"]),
    ],
)
def test_nothing_open_at_night_is_said_in_the_page_language(
    browser: Browser, base_url: str, lang: str, expected: list[str]
) -> None:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", service_workers="block")
    context.set_default_timeout(15_000)
    context.route("**/*", _offline)
    page = context.new_page()
    try:
        url = f"{base_url}/map?lang={lang}&at={SUNDAY_NIGHT}&procedure=1.001193&lat=21.0285&lon=105.8542"
        page.goto(url, wait_until="load")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#gandan-results .gandan-result")
        page.wait_for_function("!document.body.dataset.busy")
        page.locator("#gandan-open-only").check()  # "only places open now": still not a dead end
        page.wait_for_selector("#gandan-notes:not([hidden])")
        page.wait_for_function(
            "document.getElementById('gandan-notes').textContent.indexOf('08:00') >= 0 && !document.body.dataset.busy"
        )
        page.wait_for_function("document.getElementById('gandan-notes').textContent.split('.').length > 2")
        notes = page.locator("#gandan-notes").inner_text()
        for words in expected:
            assert words in notes, notes
        if lang == "vi":
            assert not ENGLISH.findall(notes), notes
        assert page.locator("#gandan-results .gandan-result").count() == 3
        assert page.locator("#gandan-results .gandan-result[data-state='closed']").count() == 3
    finally:
        context.close()
