"""The README's screenshots, retaken on a 360 px phone: run with
``DARWAZA_SCREENSHOTS=docs/screenshots pytest tests/browser/test_screenshots.py``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.documents.models import Document
from darwaza.settings import Settings
from tests.journeys import (
    GOOD_ANSWERS,
    PDF_BYTES,
    PNG_BYTES,
    authenticator_code,
    create_officer,
    latest_code,
    register_sim,
)

FOLDER = os.environ.get("DARWAZA_SCREENSHOTS")


@pytest.mark.skipif(not FOLDER, reason="set DARWAZA_SCREENSHOTS to retake the README's pictures")
def test_retake_the_readme_screenshots(
    live_server: str, chromium: Any, settings: Settings, db: Session, tmp_path: Path
) -> None:
    shots = Path(str(FOLDER))
    shots.mkdir(parents=True, exist_ok=True)
    phone = chromium.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    page = phone.new_page()
    page.goto(live_server + "/")
    page.screenshot(path=str(shots / "home-phone.png"))

    register_sim(settings, cnic="35202-9090901-3", mobile="0321 9090901")
    page.goto(live_server + "/services/hec-degree-attestation")
    page.click("a[href^='/sign-up']")
    page.fill("#field-cnic", "35202-9090901-3")
    page.fill("#field-full_name", "Ayesha Siddiqui")
    page.fill("#field-mobile", "0321 9090901")
    page.click("button[type=submit].button")
    page.fill("#field-code", latest_code(settings, "+923219090901"))
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/applications/[0-9a-f-]{36}$"))
    for name, value in GOOD_ANSWERS.items():
        if page.locator(f"select#field-{name}").count():
            page.select_option(f"#field-{name}", str(value))
        elif page.locator(f"#field-{name}").count():
            page.fill(f"#field-{name}", str(value))
    (tmp_path / "degree.pdf").write_bytes(PDF_BYTES)
    (tmp_path / "transcript.png").write_bytes(PNG_BYTES)
    page.set_input_files("#field-degree", str(tmp_path / "degree.pdf"))
    page.set_input_files("#field-transcript", str(tmp_path / "transcript.png"))
    page.click("button[name=action][value=submit]")
    page.wait_for_url(re.compile(r".*\?submitted=1$"))
    page.screenshot(path=str(shots / "submitted-phone.png"))
    application_id = page.url.split("/applications/")[1].split("?")[0]

    officer = create_officer(db, username="hec.pictures", agency_id="hec", mobile="03009090901")
    db.commit()
    desk = chromium.new_context(viewport={"width": 1100, "height": 700}).new_page()
    desk.goto(live_server + "/console/sign-in")
    desk.fill("#field-username", "hec.pictures")
    desk.fill("#field-password", "officer-pass-123")
    desk.click("form[action='/console/sign-in'] button")
    desk.fill("#field-code", authenticator_code(officer))
    desk.click("button[type=submit].button")
    desk.wait_for_url(re.compile(r".*/console$"))
    desk.screenshot(path=str(shots / "officer-queue.png"))
    desk.goto(f"{live_server}/console/applications/{application_id}")
    desk.click("form[action$='/claim'] button")
    desk.click("#approve summary")
    desk.click("#approve button[type=submit]")

    db.expire_all()
    document = db.scalar(select(Document).where(Document.application_id == application_id))
    assert document is not None
    page.goto(f"{live_server}/wallet/{document.id}")
    page.screenshot(path=str(shots / "wallet-document-phone.png"))
    page.click("form[action$='/shares'] button[type=submit]")
    link = page.input_value("#share-link")
    viewer = chromium.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True
    ).new_page()
    viewer.goto(link)
    viewer.screenshot(path=str(shots / "shared-valid-phone.png"))
