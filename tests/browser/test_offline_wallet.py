"""The wallet's QR keeps showing when the phone loses its connection."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.catalogue import load_catalogue
from darwaza.database import transaction
from darwaza.documents.service import issue_document
from darwaza.settings import Settings
from tests.journeys import latest_code, register_sim


def test_wallet_qr_still_shows_offline_after_one_visit(
    live_server: str, chromium: Any, settings: Settings, db: Session
) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    # The SIM is registered to the CNIC, so the account is proven and named on documents.
    register_sim(settings, cnic="35202-2468013-5", mobile="0322 2468013")
    page.goto(live_server + "/sign-up")
    page.fill("#field-cnic", "35202-2468013-5")
    page.fill("#field-full_name", "Offline Holder")
    page.fill("#field-mobile", "0322 2468013")
    page.click("button[type=submit].button")
    page.fill("#field-code", latest_code(settings, "+923222468013"))
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/applications$"))

    db.commit()  # a fresh snapshot that sees the new account
    served = settings.model_copy(update={"base_url": live_server})
    # Its own transaction, which takes the write lock at once: the live server writes too.
    with transaction(settings) as writer:
        document = issue_document(
            writer,
            settings=served,
            catalogue=load_catalogue(settings.catalogue_dir),
            agency_id="nadra",
            document_type_id="nadra-identity-card",
            holder_cnic="3520224680135",
            given_claims={
                "father_name": "Akram Holder",
                "gender": "F",
                "date_of_birth": "1992-02-02",
            },
            actor=Actor.operator(),
        )
    db.commit()

    page.goto(f"{live_server}/wallet/{document.id}")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the service worker, which keeps a copy
    assert page.locator(".qr svg").count() == 1
    context.set_offline(True)
    page.reload()
    assert page.locator(".qr svg").count() == 1
    assert "Offline Holder" in page.inner_text("main")
    context.close()
