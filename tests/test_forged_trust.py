"""Issue 8, finding 1: a forged trust file, or a link to another host, must never verify.

Each test plays the attacker against the real `darwaza` command (click's CliRunner) or the
running app: an attacker root key signs a trust bundle that writes the real root's ``kid``
and thumbprint about itself, lists the attacker's own "HEC" key and status lists, and comes
with a forged degree QR and SD-JWT. With the real root pinned, all of it is refused.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.catalogue import load_catalogue
from darwaza.cli import main
from darwaza.clock import numeric_date, utcnow
from darwaza.crypto.jws import parse_compact_jws, sign_compact_jws
from darwaza.crypto.keys import (
    SigningKey,
    generate_signing_key,
    jwk_thumbprint,
    kid_for_public_key,
    public_jwk,
)
from darwaza.documents.formats.compact_qr import encode_compact_qr
from darwaza.documents.formats.sd_jwt import issue_sd_jwt
from darwaza.documents.formats.status_list import sign_status_list_token
from darwaza.documents.models import Document, StatusList
from darwaza.settings import Settings
from darwaza.verification.trust_bundle import TRUST_BUNDLE_TYP
from darwaza.wallet import service as wallet
from darwaza.wallet.models import ShareOpening
from tests.factories import create_citizen, create_document
from tests.journeys import csrf_of, forget_settings

NO_PIN = "No root key is pinned: pass --root-key or set DARWAZA_TRUST_ROOT."
FOREIGN_LINK = (
    "This link points to another site, not the platform this verifier trusts; it was not opened."
)
DEGREE_CLAIMS = {
    "full_name": "Sana Mir",
    "degree_title": "BSc",
    "university": "NUST",
    "programme": "Civil Engineering",
    "year_of_completion": 2021,
}


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI pointed at the test database, with no root key pinned in the environment."""
    monkeypatch.setenv("DARWAZA_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DARWAZA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DARWAZA_BASE_URL", settings.base_url)
    monkeypatch.setenv("DARWAZA_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("DARWAZA_KEY_SEALING_SECRET", settings.key_sealing_secret)
    monkeypatch.delenv("DARWAZA_TRUST_ROOT", raising=False)
    forget_settings()
    yield CliRunner()
    forget_settings()


@dataclass(frozen=True)
class Platform:
    """A genuine degree, the genuine saved trust file and the root thumbprint to pin."""

    document: Document
    trust_file: Path
    root_thumbprint: str


@pytest.fixture
def platform(cli: CliRunner, settings: Settings, db: Session, tmp_path: Path) -> Platform:
    document = create_document(
        db,
        settings,
        holder_cnic="3520255555551",
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )
    trust_file = tmp_path / "trust.json"
    saved = cli.invoke(main, ["trust-bundle", "save", str(trust_file)])
    assert saved.exit_code == 0, saved.output
    root_thumbprint = saved.output.split("DARWAZA_TRUST_ROOT): ")[1].strip()
    return Platform(document, trust_file, root_thumbprint)


@dataclass(frozen=True)
class Forgery:
    """What the attacker hands a checkpoint: a trust file and two documents."""

    trust_file: Path
    qr: str
    sd_jwt: str
    attacker_root_thumbprint: str


def _attacker_jwk(key: SigningKey, kid: str) -> dict[str, str]:
    return public_jwk(key.public_key(), kid)


def forge(platform: Platform, settings: Settings, db: Session, *, carry_real_root: bool) -> Forgery:
    """Sign a trust bundle with the attacker's root, posing as the real one in every field.

    ``carry_real_root`` writes the real root's public JWK in the payload (so its thumbprint
    is the pinned one); otherwise the attacker's JWK is written under the real root's kid.
    """
    genuine = json.loads(platform.trust_file.read_text())
    real = parse_compact_jws(genuine["trust_bundle"])
    real_root_jwk, real_root_kid = real.payload["root_jwk"], real.header["kid"]
    real_hec_kid = platform.document.kid
    shard = db.scalars(select(StatusList).where(StatusList.agency_id == "hec")).one()
    status_uri = f"{settings.base_url}/status-lists/{shard.id}"
    hec = f"{settings.base_url}/agencies/hec"

    attacker_root = generate_signing_key()
    attacker_hec = generate_signing_key()
    attacker_hec_kid = kid_for_public_key(attacker_hec.public_key())
    now = utcnow().replace(microsecond=0)
    root_jwk = (
        real_root_jwk
        if carry_real_root
        else _attacker_jwk(attacker_root, real_root_kid)  # the old pin compared this kid
    )
    payload: dict[str, Any] = {
        "iss": settings.base_url,
        "iat": numeric_date(now),
        "exp": numeric_date(now + timedelta(days=7)),
        "root_jwk": root_jwk,
        "root_thumbprint": platform.root_thumbprint,
        "issuers": [
            {
                "issuer": hec,
                "name_en": "Higher Education Commission",
                "name_ur": "ہائر ایجوکیشن کمیشن",
                "jwks": {
                    "keys": [
                        _attacker_jwk(attacker_hec, real_hec_kid),
                        _attacker_jwk(attacker_hec, attacker_hec_kid),
                    ]
                },
                "status_list_uris": [status_uri],
            }
        ],
    }
    header = {
        "alg": "ES256",
        "typ": TRUST_BUNDLE_TYP,
        "kid": real_root_kid,
        "x5t#S256": platform.root_thumbprint,
        "jkt": platform.root_thumbprint,
    }
    forged_bundle = sign_compact_jws(header, payload, attacker_root)
    forged_status = sign_status_list_token(
        private_key=attacker_hec,
        kid=real_hec_kid,
        issuer=hec,
        uri=status_uri,
        statuses=[0] * shard.capacity,
        issued_at=now,
        ttl_seconds=300,
        expires_at=now + timedelta(days=1),
    )
    trust_file = platform.trust_file.with_name("forged-trust.json")
    trust_file.write_text(
        json.dumps(
            {
                "trust_bundle": forged_bundle,
                "status_lists": {status_uri: forged_status},
                "root_kid": real_root_kid,
                "root_thumbprint": platform.root_thumbprint,
                "saved_at": now.isoformat(),
            }
        )
    )
    vct = load_catalogue(settings.catalogue_dir).document_type("hec-degree-attestation").vct
    claims = DEGREE_CLAIMS | {"attestation_number": "FORGED00001", "full_name": "Impostor"}
    qr = encode_compact_qr(
        private_key=attacker_hec,
        issuer=hec,
        document_type=vct,
        claims={"full_name": claims["full_name"], "degree_title": "PhD"},
        status_uri=status_uri,
        status_index=platform.document.status_index,
        issued_at=now,
        expires_at=None,
    )
    sd_jwt = issue_sd_jwt(
        private_key=attacker_hec,
        kid=real_hec_kid,
        issuer=hec,
        vct=vct,
        claims=claims,
        disclosable=["full_name", "degree_title"],
        status_uri=status_uri,
        status_index=platform.document.status_index,
        issued_at=now,
        expires_at=None,
    )
    return Forgery(trust_file, qr, sd_jwt, jwk_thumbprint(attacker_root.public_key()))


def offline(
    cli: CliRunner, trust_file: Path, credential: str, *options: str
) -> tuple[Result, dict[str, Any]]:
    result = cli.invoke(
        main,
        ["verify", "--json", "--offline", "--trust-bundle", str(trust_file), *options, credential],
    )
    return result, json.loads(result.output)


@pytest.mark.parametrize("carry_real_root", [False, True], ids=["attacker-jwk", "real-jwk"])
def test_a_forged_trust_file_is_refused_when_the_real_root_is_pinned(
    cli: CliRunner, platform: Platform, settings: Settings, db: Session, carry_real_root: bool
) -> None:
    forgery = forge(platform, settings, db, carry_real_root=carry_real_root)
    pin = ("--root-key", platform.root_thumbprint)
    for credential in (forgery.qr, forgery.sd_jwt, platform.document.qr_text):
        result, verdict = offline(cli, forgery.trust_file, credential, *pin)
        assert result.exit_code == 1, result.output
        assert verdict["verdict"] == "unknown_issuer"
        assert verdict["reasons"] == ["The trust bundle is not signed by the pinned root key."]
        assert verdict["claims"] == {} and verdict["issuer"] is None
    # The same forgeries against the genuine file fail too: the attacker's key is not HEC's.
    # The QR names the attacker's key (unknown); the SD-JWT borrows HEC's kid (forged).
    for credential, expected in (
        (forgery.qr, "unknown_issuer"),
        (forgery.sd_jwt, "invalid_signature"),
    ):
        result, verdict = offline(cli, platform.trust_file, credential, *pin)
        assert (result.exit_code, verdict["verdict"]) == (1, expected)
    # The genuine degree with the genuine file and the real pin is valid.
    for credential in (platform.document.qr_text, platform.document.sd_jwt):
        result, verdict = offline(cli, platform.trust_file, credential, *pin)
        assert result.exit_code == 0, result.output
        assert verdict["verdict"] == "valid" and verdict["status_checked"]


def test_the_forgery_is_well_made_so_only_the_pin_stops_it(
    cli: CliRunner, platform: Platform, settings: Settings, db: Session
) -> None:
    # Whoever pins the attacker's root (say, copied from the forged file) is fooled: the
    # refusal above comes from pinning the real key, not from a slip in the forgery.
    forgery = forge(platform, settings, db, carry_real_root=False)
    pin = ("--root-key", forgery.attacker_root_thumbprint)
    for credential in (forgery.qr, forgery.sd_jwt):
        result, verdict = offline(cli, forgery.trust_file, credential, *pin)
        assert (result.exit_code, verdict["verdict"]) == (0, "valid")


def test_without_a_pin_nothing_is_valid_in_english_or_urdu(
    cli: CliRunner, platform: Platform, settings: Settings, db: Session
) -> None:
    forgery = forge(platform, settings, db, carry_real_root=False)
    for trust_file, credential in (
        (platform.trust_file, platform.document.qr_text),
        (platform.trust_file, platform.document.sd_jwt),
        (forgery.trust_file, forgery.qr),
    ):
        result, verdict = offline(cli, trust_file, credential)
        assert result.exit_code == 1, result.output
        assert verdict["verdict"] == "unknown_issuer"
        assert verdict["reasons"] == [NO_PIN]
    result, verdict = offline(
        cli, platform.trust_file, platform.document.qr_text, "--language", "ur"
    )
    assert result.exit_code == 1 and verdict["verdict"] == "unknown_issuer"
    assert verdict["reasons"][0] != NO_PIN and "--root-key" in verdict["reasons"][0]
    assert "DARWAZA_TRUST_ROOT" in verdict["reasons"][0]
    # Online, with no pin, the platform is not even asked.
    online = cli.invoke(main, ["verify", "--json", platform.document.qr_text])
    assert online.exit_code == 1
    assert json.loads(online.output)["reasons"] == [NO_PIN]


def test_the_setting_pins_the_root_like_the_option(
    cli: CliRunner,
    platform: Platform,
    settings: Settings,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forgery = forge(platform, settings, db, carry_real_root=True)
    monkeypatch.setenv("DARWAZA_TRUST_ROOT", platform.root_thumbprint)
    forget_settings()
    result, verdict = offline(cli, platform.trust_file, platform.document.sd_jwt)
    assert (result.exit_code, verdict["verdict"]) == (0, "valid")
    result, verdict = offline(cli, forgery.trust_file, forgery.sd_jwt)
    assert (result.exit_code, verdict["verdict"]) == (1, "unknown_issuer")
    monkeypatch.setenv("DARWAZA_TRUST_ROOT", "3kq0Jd8x2Rk")  # a kid is not a thumbprint
    forget_settings()
    command = ["verify", "--offline", "--trust-bundle", str(platform.trust_file)]
    refused = cli.invoke(main, [*command, platform.document.sd_jwt])
    assert refused.exit_code == 2 and "DARWAZA_ setting is not valid" in refused.output


def test_the_online_cli_never_follows_a_share_link_to_another_host(
    cli: CliRunner, platform: Platform, settings: Settings, db: Session
) -> None:
    citizen = create_citizen(db, cnic="35202-5555555-1", mobile="03005555551")
    token = _share(db, settings, platform.document, citizen)
    # Nothing listens on these hosts: had the link been followed, the reason would say
    # the platform could not be reached.
    for link in (
        f"http://attacker.example/s/{token}",
        f"http://127.0.0.1:9/s/{token}",
        f"{settings.base_url}.attacker.example/s/{token}",
        f"http://user@{settings.base_url.removeprefix('http://')}/s/{token}",
    ):
        checked = cli.invoke(
            main, ["verify", "--json", "--root-key", platform.root_thumbprint, link]
        )
        assert checked.exit_code == 1, checked.output
        verdict = json.loads(checked.output)
        assert verdict["verdict"] == "unknown_issuer"
        assert verdict["reasons"] == [FOREIGN_LINK], link


def _share(db: Session, settings: Settings, document: Document, citizen: Any) -> str:
    created = wallet.create_share(
        db,
        citizen=citizen,
        document=document,
        document_type=load_catalogue(settings.catalogue_dir).document_type(document.document_type),
        claims=["full_name", "university"],
        lifetime="1d",
        recipient=None,
    )
    db.commit()
    return created.token


def test_the_platform_refuses_a_share_link_naming_another_host(
    app_client: TestClient, platform: Platform, settings: Settings, db: Session
) -> None:
    citizen = create_citizen(db, cnic="35202-5555555-1", mobile="03005555551")
    token = _share(db, settings, platform.document, citizen)
    for link in (f"https://attacker.example/s/{token}", f"http://127.0.0.1:8001/s/{token}"):
        answer = app_client.post("/api/v1/verify", json={"credential": link}).json()
        assert answer["verdict"] == "unknown_issuer"
        assert answer["reasons"] == [FOREIGN_LINK]
        page = app_client.post(
            "/verify", data={"credential": link, "csrf_token": csrf_of(app_client.get("/verify"))}
        )
        assert "another site" in page.text and "Sana Mir" not in page.text
    assert db.scalars(select(ShareOpening)).all() == []  # the link was never opened
    genuine = f"{settings.base_url}/s/{token}"
    answer = app_client.post("/api/v1/verify", json={"credential": genuine}).json()
    assert answer["verdict"] == "valid" and answer["claims"]["full_name"] == "Sana Mir"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """`darwaza serve` on a free port: the platform an online verifier is configured for."""
    base = f"http://127.0.0.1:{_free_port()}"
    env = os.environ | {
        "DARWAZA_DATABASE_URL": settings.resolved_database_url,
        "DARWAZA_DATA_DIR": str(settings.data_dir),
        "DARWAZA_SECRET_KEY": settings.secret_key,
        "DARWAZA_KEY_SEALING_SECRET": settings.key_sealing_secret,
        "DARWAZA_BASE_URL": base,
        "DARWAZA_LOG_LEVEL": "WARNING",
    }
    darwaza = Path(sys.executable).parent / "darwaza"
    server = subprocess.Popen(
        [str(darwaza), "serve", "--port", base.rsplit(":", 1)[1]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield settings.model_copy(update={"base_url": base})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_online_checks_trust_only_the_pinned_root_and_the_configured_platform(
    served: Settings, db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = create_document(
        db,
        served,
        holder_cnic="3520255555551",
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )
    citizen = create_citizen(db, cnic="35202-5555555-1", mobile="03005555551")
    token = _share(db, served, document, citizen)
    for name, value in (
        ("DATABASE_URL", served.resolved_database_url),
        ("DATA_DIR", str(served.data_dir)),
        ("BASE_URL", served.base_url),
        ("SECRET_KEY", served.secret_key),
        ("KEY_SEALING_SECRET", served.key_sealing_secret),
    ):
        monkeypatch.setenv(f"DARWAZA_{name}", value)
    monkeypatch.delenv("DARWAZA_TRUST_ROOT", raising=False)
    forget_settings()
    cli = CliRunner()
    saved = cli.invoke(main, ["trust-bundle", "save", str(tmp_path / "trust.json")])
    root = saved.output.split("DARWAZA_TRUST_ROOT): ")[1].strip()

    def online(*arguments: str) -> tuple[int, dict[str, Any]]:
        result = cli.invoke(main, ["verify", "--json", *arguments])
        return result.exit_code, json.loads(result.output)

    for credential in (f"{served.base_url}/s/{token}", document.sd_jwt, document.qr_text):
        code, verdict = online("--root-key", root, credential)
        assert (code, verdict["verdict"]) == (0, "valid"), verdict
    code, verdict = online("--root-key", "A" * 43, document.qr_text)
    assert (code, verdict["verdict"]) == (1, "unknown_issuer")
    code, verdict = online(document.qr_text)
    assert (code, verdict["reasons"]) == (1, [NO_PIN])
    # The same token on another host (a server the attacker runs) is never fetched.
    elsewhere = f"http://127.0.0.1:{_free_port()}/s/{token}"
    code, verdict = online("--root-key", root, elsewhere)
    assert (code, verdict["verdict"], verdict["reasons"]) == (1, "unknown_issuer", [FOREIGN_LINK])
    forget_settings()


def test_the_offline_verifiers_page_publishes_the_thumbprint_to_pin(
    app_client: TestClient, platform: Platform
) -> None:
    page = app_client.get("/verify/offline").text
    assert f'id="root-thumbprint" class="thumbprint">{platform.root_thumbprint}</code>' in page
    # The public check page does not talk about the command line.
    assert "--root-key" not in app_client.get("/verify").text
