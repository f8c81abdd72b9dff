"""In real Chromium on a 360 px phone screen: pay a PSID at the sandbox bank."""

from __future__ import annotations

import threading
import time
from typing import Any

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


def test_a_citizen_pays_a_psid_at_the_sandbox_bank_on_a_phone(
    live_server: str, chromium: Any, settings: Settings, db: Session
) -> None:
    citizen = create_citizen(db, full_name="Phone Payer")
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
    try:
        context = chromium.new_context(
            viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.fill("#psid", psid)
        page.click("button[type=submit]")
        page.wait_for_selector("#pay")
        assert "Rs 1,000.00" in page.content() and "Phone Payer" in page.content()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.select_option("#scenario", "normal")  # a PSID ending in 1 would decline
        page.click("#pay")
        result = page.wait_for_selector("#result")
        assert result is not None and result.inner_text().startswith("Paid")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        context.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    run_jobs(settings)
    db.expire_all()
    moved = db.get(Application, application_id)
    assert moved is not None and moved.state == ApplicationState.SUBMITTED
