"""In real Chromium on a 360 px phone screen: pay a PSID at the sandbox bank."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy.orm import Session

from darwaza.applications.models import Application
from darwaza.applications.workflow import ApplicationState
from darwaza.audit.actors import Actor
from darwaza.payments import service as payments
from darwaza.payments.sandbox import create_sandbox_app
from darwaza.settings import Settings
from tests.browser.conftest import _free_port
from tests.factories import create_citizen
from tests.journeys import run_jobs

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
SIDEWAYS_SCROLL = "document.documentElement.scrollWidth"


def _challan(db: Session, settings: Settings, payer: str) -> tuple[str, str]:
    """An application waiting for a Rs 1,000 fee: its PSID and its id."""
    citizen = create_citizen(db, full_name=payer)
    application = Application(
        citizen_id=citizen.id,
        service_id="hec-degree-attestation",
        agency_id="hec",
        state=ApplicationState.AWAITING_PAYMENT,
        answers={},
        fee_paisa=100000,
    )
    db.add(application)
    db.flush()
    payment = payments.issue_challan(
        db,
        settings=settings,
        application_id=application.id,
        citizen_id=citizen.id,
        payer_name=citizen.full_name or "",
        agency_id="hec",
        service_id="hec-degree-attestation",
        tracking_number="DZ-1234-5678-90",
        fee_tier=None,
        amount_paisa=100000,
        actor=Actor.operator(),
    )
    psid, application_id = payment.psid or "", application.id
    db.commit()
    return psid, application_id


@pytest.fixture
def sandbox_bank(live_server: str, settings: Settings) -> Iterator[str]:
    """The sandbox bank on a free port, talking to the live Darwaza."""
    port = _free_port()
    darwaza_port = live_server.rsplit(":", 1)[1]
    bank_app = create_sandbox_app(
        settings.model_copy(update={"sandbox_darwaza_url": f"http://127.0.0.1:{darwaza_port}"})
    )
    server = uvicorn.Server(
        uvicorn.Config(bank_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the sandbox bank did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _moved_on(db: Session, settings: Settings, application_id: str) -> bool:
    run_jobs(settings)
    db.expire_all()
    moved = db.get(Application, application_id)
    return moved is not None and moved.state == ApplicationState.SUBMITTED


def test_a_citizen_pays_a_psid_at_the_sandbox_bank_on_a_phone(
    sandbox_bank: str, chromium: Any, settings: Settings, db: Session
) -> None:
    psid, application_id = _challan(db, settings, "Phone Payer")
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{sandbox_bank}/")
    page.fill("#psid", psid)
    page.click("button[type=submit]")
    page.wait_for_selector("#pay")
    assert "Rs 1,000" in page.inner_text("body") and "Phone Payer" in page.content()
    assert page.evaluate(SIDEWAYS_SCROLL) <= 360
    page.select_option("#scenario", "normal")  # a PSID ending in 1 would decline
    page.click("#pay")
    result = page.wait_for_selector("#result")
    assert result is not None and result.inner_text().startswith("Paid")
    assert page.evaluate(SIDEWAYS_SCROLL) <= 360
    context.close()

    assert _moved_on(db, settings, application_id)


def test_a_citizen_pays_at_the_sandbox_bank_in_urdu_on_a_phone(
    sandbox_bank: str, chromium: Any, settings: Settings, db: Session
) -> None:
    psid, application_id = _challan(db, settings, "Urdu Payer")
    context = chromium.new_context(**PHONE, locale="en-GB")
    page = context.new_page()
    page.goto(f"{sandbox_bank}/")
    assert page.get_attribute("html", "dir") == "ltr"
    page.click("#language-ur")
    page.wait_for_selector("html[dir=rtl]")
    assert page.get_attribute("html", "lang") == "ur"
    assert "بل تلاش کریں" in page.inner_text("body")

    # The choice is remembered: the bill page is in Urdu, the PSID still left to right.
    page.fill("#psid", psid)
    page.click("button[type=submit]")
    page.wait_for_selector("#pay")
    assert page.get_attribute("html", "dir") == "rtl"
    bill = page.inner_text("body")
    assert "1,000 روپے" in bill and "Urdu Payer" in bill and "ابھی ادا کریں" in bill
    shown_psid = page.locator("bdi[dir=ltr]", has_text=psid)
    assert shown_psid.evaluate("bdi => getComputedStyle(bdi).direction") == "ltr"
    assert page.evaluate(SIDEWAYS_SCROLL) <= 360

    page.select_option("#scenario", "normal")
    page.click("#pay")
    result = page.wait_for_selector("#result")
    assert result is not None and result.inner_text().startswith("ادائیگی ہو گئی۔")
    assert page.get_attribute("html", "dir") == "rtl"
    assert "منظور: ادائیگی درج ہو گئی ہے۔" in page.inner_text("#answers")
    assert page.evaluate(SIDEWAYS_SCROLL) <= 360

    # Switching back shows the same receipt in English.
    page.click("#language-en")
    page.wait_for_selector("html[dir=ltr]")
    assert page.inner_text("#result").startswith("Paid. 1Bill answered 00")
    context.close()

    assert _moved_on(db, settings, application_id)
