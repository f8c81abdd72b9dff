"""The verify page checks QR codes with the network cut, in JavaScript (WebCrypto), and gives
the same verdicts as the Python verifier on valid, revoked, forged and malformed codes."""

from __future__ import annotations

import re
import zlib
from typing import Any

import base45
import cbor2
import httpx
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.catalogue import load_catalogue
from darwaza.clock import utcnow
from darwaza.documents.service import change_document_status, issue_document
from darwaza.settings import Settings
from darwaza.verification.trust_bundle import verify_pinned_trust_bundle
from darwaza.verification.verifier import BundleTrustSource, verify_credential
from tests.journeys import register_sim


def _forge(qr_text: str) -> str:
    """The same QR with one bit of its signature flipped."""
    cose = cbor2.loads(zlib.decompress(base45.b45decode(qr_text[4:])))
    signature = bytearray(cose.value[3])
    signature[5] ^= 0x01
    cose.value[3] = bytes(signature)
    return "DZ1:" + base45.b45encode(zlib.compress(cbor2.dumps(cose), 9)).decode()


def _changed_claim(qr_text: str) -> str:
    """The same signature over a changed name."""
    cose = cbor2.loads(zlib.decompress(base45.b45decode(qr_text[4:])))
    claims = cbor2.loads(cose.value[2])
    claims[-70000]["c"]["full_name"] = "Someone Else"
    cose.value[2] = cbor2.dumps(claims)
    return "DZ1:" + base45.b45encode(zlib.compress(cbor2.dumps(cose), 9)).decode()


def _python_verdicts(live_server: str, texts: list[str], thumbprint: str) -> list[str]:
    now = utcnow()
    token = httpx.get(live_server + "/trust-bundle").text
    bundle = verify_pinned_trust_bundle(token, thumbprint, now)
    # As the page does: only this server's lists (other tests' servers may be in the bundle).
    lists = {
        uri: httpx.get(uri).text
        for issuer in bundle.issuers
        for uri in issuer.status_list_uris
        if uri.startswith(live_server + "/")
    }
    trust = BundleTrustSource(bundle, lists, now)
    return [verify_credential(text, trust=trust, now=now).verdict.value for text in texts]


def test_the_browser_checks_qr_codes_offline_like_the_server(
    live_server: str, chromium: Any, settings: Settings, db: Session
) -> None:
    served = settings.model_copy(update={"base_url": live_server})
    catalogue = load_catalogue(settings.catalogue_dir)
    register_sim(settings, cnic="35202-1212121-3", mobile="0321 1212121")
    issued = [
        issue_document(
            db,
            settings=served,
            catalogue=catalogue,
            agency_id="nadra",
            document_type_id="nadra-identity-card",
            holder_cnic="3520212121213",
            given_claims={
                "full_name": name,
                "father_name": "Akram",
                "gender": "F",
                "date_of_birth": "1992-02-02",
            },
            actor=Actor.operator(),
        )
        for name in ("Valid Holder", "Revoked Holder", "Suspended Holder")
    ]
    catalogue = load_catalogue(settings.catalogue_dir)
    for document, action, reason in (
        (issued[1], "revoke", "Issued in error"),
        (issued[2], "suspend", "Under review"),
    ):
        change_document_status(
            db,
            settings=settings,
            catalogue=catalogue,
            document=document,
            action=action,
            reason=reason,
            actor=Actor.operator(),
        )
    db.commit()
    valid, revoked, suspended = (document.qr_text for document in issued)
    texts = [
        valid,
        revoked,
        suspended,
        _forge(valid),
        _changed_claim(valid),
        "DZ1:NOT-A-DOCUMENT",
        "DZ1:" + valid[4:-3],
        "hello",
        valid + "\n",
    ]
    # The thumbprint the page pins (the server makes the root key if it has none yet).
    pinned = re.search(r'data-root-thumbprint="([^"]+)"', httpx.get(live_server + "/verify").text)
    assert pinned
    thumbprint = pinned[1]
    expected = _python_verdicts(live_server, texts, thumbprint)
    forged = "invalid_signature"
    assert expected[:5] == ["valid", "revoked", "suspended", forged, forged]
    assert expected[5:8] == ["malformed", "malformed", "malformed"]

    context = chromium.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server + "/verify")
    # The page syncs the trust bundle and status lists in the background, then says when.
    page.locator("#offline-check").wait_for(state="visible")
    assert "Lists last updated" in page.inner_text("#offline-check")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    context.set_offline(True)
    got = [page.evaluate("t => DarwazaVerifier.check(t).then(r => r.verdict)", t) for t in texts]
    assert got == expected

    # The page itself still opens and checks a pasted code with no network at all.
    page.reload()
    page.fill("#field-credential", revoked)
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector("#offline-result .verdict")
    assert "revoked" in (page.get_attribute("#offline-result .verdict", "class") or "")
    assert "Revoked Holder" in page.inner_text("#offline-result")
    assert re.search(r"Checked on this device", page.inner_text("#offline-result"))
    assert not errors, errors
    context.close()


def test_a_bundle_signed_by_another_root_is_refused_in_the_browser(
    live_server: str, chromium: Any
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(live_server + "/verify")
    token = httpx.get(live_server + "/trust-bundle").text
    refused = page.evaluate(
        """t => DarwazaVerifier.verifyBundle(t, 'A'.repeat(43), Date.now() / 1000)
                 .then(() => 'accepted', e => e.message)""",
        token,
    )
    assert refused == "The trust bundle is not signed by the pinned root key."
    context.close()
