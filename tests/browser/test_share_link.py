"""After "Create link" the phone lands on the new link, copies it with one tap, and the link
opens for the other person."""

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


def test_a_new_share_link_is_focused_copied_and_opens(
    live_server: str, chromium: Any, settings: Settings, db: Session
) -> None:
    context = chromium.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    register_sim(settings, cnic="35202-3434343-5", mobile="0322 3434343")
    page.goto(live_server + "/sign-up")
    page.fill("#field-cnic", "35202-3434343-5")
    page.fill("#field-full_name", "Share Holder")
    page.fill("#field-mobile", "0322 3434343")
    page.click("button[type=submit].button")
    page.fill("#field-code", latest_code(settings, "+923223434343"))
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/applications$"))
    db.commit()
    # Its own transaction, which takes the write lock at once: the live server writes too.
    with transaction(settings) as writer:
        document = issue_document(
            writer,
            settings=settings.model_copy(update={"base_url": live_server}),
            catalogue=load_catalogue(settings.catalogue_dir),
            agency_id="nadra",
            document_type_id="nadra-identity-card",
            holder_cnic="3520234343435",
            given_claims={
                "full_name": "Share Holder",
                "father_name": "Akram Holder",
                "gender": "F",
                "date_of_birth": "1992-02-02",
            },
            actor=Actor.operator(),
        )
    db.commit()

    page.goto(f"{live_server}/wallet/{document.id}")
    page.click("form[action$='/shares'] button[type=submit]")
    page.wait_for_selector("#new-link")
    assert page.evaluate("document.activeElement.id") == "new-link"
    link = page.input_value("#share-link")
    assert re.fullmatch(rf"{re.escape(live_server)}/s/[A-Za-z0-9_-]+", link)
    assert page.locator("#new-link .qr svg").count() == 1
    page.click("#copy-link")
    page.wait_for_function("() => true")  # let the click's promise settle
    page.locator("#copy-link", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == link

    viewer = chromium.new_context().new_page()
    viewer.goto(link)
    assert "Valid" in viewer.inner_text("main")
    context.close()
