"""Passkeys in real Chromium with a virtual authenticator: add one, sign in with it, and an SMS
code no longer signs that account in."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from darwaza.settings import Settings
from tests.journeys import authenticator_code, create_officer, latest_code, sms_messages


def test_citizen_adds_a_passkey_and_signs_in_with_it_without_sms(
    live_server: str, chromium: Any, settings: Settings
) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )

    page.goto(live_server + "/sign-up")
    page.fill("#field-cnic", "35202-9753186-4")
    page.fill("#field-full_name", "Passkey Person")
    page.fill("#field-mobile", "0323 9753186")
    page.click("button[type=submit].button")
    page.fill("#field-code", latest_code(settings, "+923239753186"))
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/applications$"))

    page.goto(live_server + "/account")
    page.click("#passkey-add")
    page.wait_for_url(re.compile(r".*/account\?passkey=added$"))
    assert "Passkeys: 1" in page.inner_text("main")
    assert "A passkey was added" in page.inner_text("main")  # told in the app too
    # The account holder is told by SMS that a passkey was added.
    assert "passkey was added" in sms_messages(settings)[-1]["text"]

    # Sign out, then sign in with the passkey alone.
    page.click("nav form[action='/sign-out'] button")
    sent_before = len(sms_messages(settings))
    page.goto(live_server + "/sign-in")
    page.click("#passkey-sign-in")
    page.wait_for_url(re.compile(r".*/applications$"))
    assert "Sign out" in page.inner_text("header")
    assert len(sms_messages(settings)) == sent_before  # no code was needed

    # A code by SMS (what a swapped SIM would receive) no longer signs this account in.
    other = chromium.new_context().new_page()
    other.goto(live_server + "/sign-in")
    other.fill("#field-cnic", "35202-9753186-4")
    other.click("form[action='/sign-in'] button[type=submit]")
    other.fill("#field-code", latest_code(settings, "+923239753186"))
    other.click("button[type=submit].button")
    assert "That code is not right" in other.inner_text("main")
    context.close()


def test_an_officer_uses_a_passkey_as_the_second_factor(
    live_server: str, chromium: Any, settings: Settings, db: Session
) -> None:
    officer = create_officer(db, username="hec.passkey", agency_id="hec", mobile="03009991234")
    context = chromium.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )

    def password_step() -> None:
        page.goto(live_server + "/console/sign-in")
        page.fill("#field-username", "hec.passkey")
        page.fill("#field-password", "officer-pass-123")
        page.click("form[action='/console/sign-in'] button")
        page.wait_for_url(re.compile(r".*/console/sign-in/code$"))

    password_step()
    page.fill("#field-code", authenticator_code(officer))
    page.click("button[type=submit].button")
    page.wait_for_url(re.compile(r".*/console$"))
    page.goto(live_server + "/account")
    page.click("#passkey-add")
    page.wait_for_url(re.compile(r".*/account\?passkey=added$"))
    page.click("nav form[action='/sign-out'] button")

    password_step()
    page.click("#passkey-sign-in")
    page.wait_for_url(re.compile(r".*/console$"))
    assert "Applications to review" in page.inner_text("main")
    context.close()
