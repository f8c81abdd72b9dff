"""Bulk issuance on a phone-sized screen: one officer uploads a small register and reads
the check report; another approves; the progress (polled by htmx) reaches the end."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from darwaza.background_work import job_registry
from darwaza.jobs.worker import run_due_jobs
from darwaza.settings import Settings
from tests.bulk import graduate, register_csv
from tests.factories import create_staff
from tests.journeys import STAFF_PASSWORD, authenticator_code

pytestmark = pytest.mark.browser


@pytest.fixture
def inline_worker(settings: Settings) -> Iterator[None]:
    """A worker thread running due jobs until the test ends."""
    stop = threading.Event()

    def work() -> None:
        registry = job_registry(settings)
        while not stop.is_set():
            if not run_due_jobs(settings, registry, limit=20):
                stop.wait(0.2)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def _sign_in(page: object, base: str, username: str, code: str) -> None:
    page.goto(f"{base}/console/sign-in")  # type: ignore[attr-defined]
    page.fill("#field-username", username)  # type: ignore[attr-defined]
    page.fill("#field-password", STAFF_PASSWORD)  # type: ignore[attr-defined]
    page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r".*/console/sign-in/code$"))  # type: ignore[attr-defined]
    page.fill("#field-code", code)  # type: ignore[attr-defined]
    page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r".*/console$"))  # type: ignore[attr-defined]


def test_an_officer_uploads_another_approves_and_progress_reaches_the_end_at_360px(
    live_server: str,
    chromium: object,
    settings: Settings,
    db: Session,
    inline_worker: None,
    tmp_path: Path,
) -> None:
    uploader = create_staff(db, settings, username="hec.bulk.one")
    approver = create_staff(db, settings, username="hec.bulk.two")
    register = tmp_path / "convocation.csv"
    rows = [graduate(n) for n in range(1, 6)] + [["123", "Bad", "BS", "CS", "PU", "2024"]]
    register.write_bytes(register_csv(rows))

    for who, code_of in ((uploader, "uploader"), (approver, "approver")):
        context = chromium.new_context(viewport={"width": 360, "height": 740})  # type: ignore[attr-defined]
        page = context.new_page()
        _sign_in(page, live_server, who.username, authenticator_code(who))
        if code_of == "uploader":
            page.goto(f"{live_server}/console/batches")
            page.select_option("#field-document_type", "hec-degree-attestation")
            page.set_input_files("#field-register", str(register))
            page.click("form[enctype] button[type=submit]")
            page.wait_for_url(re.compile(r".*/console/batches/[0-9a-f-]{36}$"))
            batch_url = page.url
            # The worker checks the register; the page draws itself again with the report.
            page.locator("text=Enter a valid CNIC").wait_for(timeout=30_000)
            assert page.locator("text=Enter a valid CNIC").count() == 1
            assert page.locator("text=Graduate 1").count() == 1
            assert page.locator("button:has-text('Approve and issue')").count() == 0
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"the page scrolls sideways at 360 px ({width} px)"
        else:
            page.goto(batch_url)
            page.click("button:has-text('Approve and issue')")
            page.wait_for_url(batch_url)
            # htmx replaces the progress card until the batch is done: no reload needed.
            page.locator("#count-issued", has_text="5").wait_for(timeout=60_000)
            page.locator("#batch-progress:not([hx-get])").wait_for(timeout=60_000)
            assert page.locator("#count-left").inner_text() == "0"
        context.close()
