"""Every citizen page on a 360 px phone, in English and Urdu: light, no console errors, no
axe violations (WCAG 2.2 AA)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from darwaza.settings import Settings
from tests.journeys import latest_code

PUBLIC_PAGES = (
    "/",
    "/services",
    "/services/hec-degree-attestation",
    "/sign-in",
    "/sign-up",
    "/verify",
    "/verify/offline",
)
CITIZEN_PAGES = ("/applications", "/wallet", "/account", "/services/mci-birth-registration")
FIRST_VISIT_LIMIT = 30 * 1024
NEXT_PAGE_LIMIT = 15 * 1024
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


# The verify page syncs the trust list for offline checks in the background: counted apart.
OFFLINE_SYNC = re.compile(r"/(trust-bundle|status-lists/)")
OFFLINE_SYNC_LIMIT = 20 * 1024


class Watcher:
    """Console errors and bytes transferred (headers and encoded bodies, fonts apart)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.transferred = 0
        self.synced = 0
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("requestfinished", self._finished)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _finished(self, request: Any) -> None:
        if request.resource_type == "font":
            return
        sizes = request.sizes()
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        if OFFLINE_SYNC.search(request.url):
            self.synced += size
        else:
            self.transferred += size

    def reset(self) -> None:
        self.errors.clear()
        self.transferred = 0
        self.synced = 0


def _phone(chromium: Any, language: str) -> Any:
    return chromium.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="ur-PK" if language == "ur" else "en-GB",
        # Measure what the network carries; the offline tests cover the service worker.
        service_workers="block",
    )


def _axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


@pytest.mark.parametrize("language", ["en", "ur"])
def test_every_citizen_page_is_light_quiet_and_accessible_on_a_phone(
    live_server: str, chromium: Any, settings: Settings, language: str
) -> None:
    context = _phone(chromium, language)
    page = context.new_page()
    watcher = Watcher(page)
    problems: list[str] = []
    weights: dict[str, int] = {}

    def visit(path: str, *, first: bool = False) -> None:
        watcher.reset()
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == language, path
        weights[path] = watcher.transferred
        limit = FIRST_VISIT_LIMIT if first else NEXT_PAGE_LIMIT
        if watcher.transferred > limit:
            problems.append(f"{path}: {watcher.transferred} bytes > {limit}")
        if watcher.synced > OFFLINE_SYNC_LIMIT:
            problems.append(f"{path}: offline sync {watcher.synced} bytes > {OFFLINE_SYNC_LIMIT}")
        if watcher.errors:
            problems.append(f"{path}: console {watcher.errors}")
        problems.extend(f"{path}: axe {v}" for v in _axe_violations(page))

    for index, path in enumerate(PUBLIC_PAGES):
        visit(path, first=index == 0)

    mobile = "0321 55" + ("10001" if language == "en" else "10002")
    page.goto(live_server + "/sign-up")
    page.fill("#field-cnic", "35202-55" + ("10001" if language == "en" else "10002") + "-3")
    page.fill("#field-full_name", "Sana Phone" if language == "en" else "ثنا فون")
    page.fill("#field-mobile", mobile)
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/sign-in/code$"))
    visit("/sign-in/code")
    page.fill("#field-code", latest_code(settings, "+92" + mobile.replace(" ", "")[1:]))
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/applications$"))
    for path in CITIZEN_PAGES:
        visit(path)
    print(f"\nweights {language}", weights)  # the measured weights, for the record (pytest -s)
    context.close()
    assert not problems, "\n".join(problems)
