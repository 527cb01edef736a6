"""The API docs (/docs: Swagger UI, /redoc: ReDoc) work without the internet.

Their libraries are served from /static/vendor (installed by `app.assets`), not from a CDN. The HTML
is checked with the test client; then a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) opens both pages against a real uvicorn server with every request that leaves 127.0.0.1
aborted and recorded, and must see every operation of the OpenAPI schema drawn.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route

from app.assets import install_web_assets

TIMEOUT_MS = 20_000


@pytest.fixture(scope="module", autouse=True)
def web_assets() -> None:
    """The vendored libraries (a no-op when `make build` has installed them)."""
    install_web_assets()


def _operation_ids(spec: dict) -> list[str]:  # type: ignore[type-arg]
    return [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_the_app_s_own_files(client, path: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200
    links = re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert links, "the page loads nothing?"
    for link in links:
        assert urlsplit(link).netloc == "", f"{path} loads {link} from elsewhere"
        assert client.get(link).status_code == 200, link
    assert "fonts.googleapis.com" not in page.text and "cdn.jsdelivr.net" not in page.text


def test_swagger_oauth2_redirect_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/docs/oauth2-redirect")
    assert response.status_code == 200 and "oauth2" in response.text.lower()


# ------------------------------------------------------------------------------------- browser


class Offline:
    """Aborts and records every request that would leave the machine; records failures and script errors."""

    def __init__(self, page: Page) -> None:
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        page.context.route("**/*", self._route)
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url} {request.failure}"))
        page.on("response", lambda response: response.status >= 400 and self.failed.append(response.url))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in ("127.0.0.1", None):  # None: data: and blob: addresses
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def assert_clean(self) -> None:
        assert self.outside == [], f"the page tried to reach the internet: {self.outside}"
        assert self.failed == [], f"failed requests: {self.failed}"
        assert self.errors == [], f"script errors: {self.errors}"


@pytest.mark.browser
@pytest.mark.parametrize(
    ("path", "operation_selector"),
    [
        ("/docs", ".opblock .opblock-summary-path, .opblock .opblock-summary-path__deprecated"),
        ("/redoc", "[data-section-id^='operation/']"),
    ],
)
def test_docs_show_every_operation_offline(  # type: ignore[no-untyped-def]
    browser: Browser, base_url: str, client, output_dir: Path, path: str, operation_selector: str
) -> None:
    operations = _operation_ids(client.get("/openapi.json").json())
    assert len(operations) > 10
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    offline = Offline(page)
    try:
        page.goto(base_url + path, wait_until="load")
        page.wait_for_function(
            f"document.querySelectorAll({operation_selector!r}).length >= {len(operations)}", timeout=TIMEOUT_MS
        )
        shown = page.locator(operation_selector)
        assert shown.count() == len(operations)
        text = page.locator("body").inner_text()
        assert "/v1/nearest" in text and "/v1/ask" in text
        if path == "/redoc":
            ids = {shown.nth(i).get_attribute("data-section-id") for i in range(shown.count())}
            assert ids == {f"operation/{op}" for op in operations}
        page.screenshot(path=str(output_dir / f"docs{path.replace('/', '-')}.png"))
        offline.assert_clean()
    finally:
        context.close()
