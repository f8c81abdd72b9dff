"""In real Chromium on a 360 px phone screen, in Urdu: sign up, apply, attach, submit."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from darwaza.i18n import translate
from darwaza.settings import Settings
from tests.journeys import PDF_BYTES, PNG_BYTES, latest_code


def screenshots_dir(tmp_path: Path) -> Path:
    """Where to save screenshots: ``DARWAZA_SCREENSHOTS`` (for the docs) or a temporary folder."""
    chosen = os.environ.get("DARWAZA_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_citizen_signs_up_applies_and_submits_in_urdu_on_a_phone(
    live_server: str, chromium: Any, settings: Settings, tmp_path: Path
) -> None:
    degree = tmp_path / "degree.pdf"
    degree.write_bytes(PDF_BYTES)
    transcript = tmp_path / "transcript.png"
    transcript.write_bytes(PNG_BYTES)

    context = chromium.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    # In English too, nothing is wider than the phone's screen.
    for path in ("/", "/services", "/services/hec-degree-attestation", "/sign-up", "/verify"):
        page.goto(live_server + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    page.goto(live_server + "/")
    page.click("button[name=language][value=ur]")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ur"
    # Nothing is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.click("a[href='/sign-up']")
    page.fill("#field-cnic", "35202-4567891-3")
    page.fill("#field-full_name", "نورین اختر")
    page.fill("#field-mobile", "0321 4567891")
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/sign-in/code$"))
    page.fill("#field-code", latest_code(settings, "+923214567891"))
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/applications$"))

    page.goto(live_server + "/services?q=" + "ڈگری")
    page.click("a[href='/services/hec-degree-attestation']")
    page.click("form[action$='/apply'] button")
    page.wait_for_url(re.compile(r".*/applications/[0-9a-f-]{36}$"))
    assert page.locator("html").get_attribute("dir") == "rtl"

    page.fill("#field-full_name", "Noreen Akhtar")
    page.select_option("#field-university", "university-of-peshawar")
    page.fill("#field-degree_title", "Bachelor of Arts")
    page.fill("#field-programme", "Economics")
    page.fill("#field-registration_number", "UOP-2016-4431")
    page.fill("#field-year_of_completion", "2018")
    page.fill("#field-date_of_birth", "1996-05-20")
    page.set_input_files("#field-degree", str(degree))
    page.set_input_files("#field-transcript", str(transcript))
    shots = screenshots_dir(tmp_path)
    page.screenshot(path=str(shots / "apply-urdu-phone.png"), full_page=False)
    page.click("button[name=action][value=submit]")
    page.wait_for_url(re.compile(r".*\?submitted=1$"))

    body = page.inner_text("main")
    assert translate("ur", "Application submitted") in body
    assert re.search(r"DZ-\d{4}-\d{4}-\d{2}", body)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(shots / "submitted-urdu-phone.png"), full_page=True)
    context.close()
