"""Trust for verifiers: the signed bundle, and checking a document."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from darwaza.cli.common import app_parts, failure
from darwaza.crypto.keys import is_thumbprint
from darwaza.database import transaction
from darwaza.errors import DarwazaError
from darwaza.settings import get_verifier_settings
from darwaza.verification.images import read_qr_image
from darwaza.verification.offline import render_result, verify_offline, verify_online
from darwaza.verification.publishing import offline_package


@click.group("trust-bundle")
def trust_bundle() -> None:
    """The signed list of trusted issuers, for offline verifiers."""


@trust_bundle.command("save")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def trust_bundle_save(path: Path) -> None:
    """Save the trust bundle and every status list to PATH, for checking without a network."""

    settings, catalogue = app_parts()
    with transaction(settings) as session:
        package = offline_package(session, settings=settings, catalogue=catalogue)
    path.write_text(json.dumps(package, indent=1), encoding="utf-8")
    click.echo(f"Saved the trust bundle and {len(package['status_lists'])} status lists to {path}.")
    click.echo(
        "Root key thumbprint (pin it with --root-key or DARWAZA_TRUST_ROOT): "
        f"{package['root_thumbprint']}"
    )


@click.command()
@click.argument("credential")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
@click.option(
    "--offline", is_flag=True, help="Use only a saved trust bundle; no network, no database"
)
@click.option(
    "--trust-bundle", "bundle_path", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--root-key",
    "root_thumbprint",
    default=None,
    metavar="THUMBPRINT",
    help=(
        "Pin the platform's root key: its RFC 7638 thumbprint, as published by the "
        "platform (default: DARWAZA_TRUST_ROOT)"
    ),
)
@click.option("--language", default="en", type=click.Choice(["en", "ur"]))
def verify(
    credential: str,
    as_json: bool,
    offline: bool,
    bundle_path: Path | None,
    root_thumbprint: str | None,
    language: str,
) -> None:
    """Check a document: QR text, an SD-JWT, a share link, or an image file of a QR code.

    Exits 0 only when the document is valid and its status was checked; 1 otherwise.
    Nothing is valid unless the platform's root key is pinned (--root-key).
    """
    if root_thumbprint is not None and not is_thumbprint(root_thumbprint.strip()):
        raise click.BadParameter(
            "a root key thumbprint is 43 characters of base64url", param_hint="--root-key"
        )
    try:
        get_verifier_settings()  # DARWAZA_TRUST_ROOT and DARWAZA_BASE_URL, checked before any use
    except ValidationError as error:
        raise click.UsageError(f"A DARWAZA_ setting is not valid:\n{error}") from error
    text = credential
    candidate = Path(credential)
    try:
        is_file = len(credential) < 1024 and candidate.is_file()
    except OSError:  # a long credential is not a file name
        is_file = False
    if is_file:
        content = candidate.read_bytes()
        try:
            decoded = read_qr_image(content)
        except DarwazaError as error:
            raise failure(error) from error
        text = decoded if decoded is not None else content.decode("utf-8", "replace").strip()
    if offline:
        if bundle_path is None:
            raise click.UsageError("--offline needs --trust-bundle FILE")
        result = verify_offline(text, bundle_path, root_thumbprint)
    else:
        result = verify_online(text, root_thumbprint=root_thumbprint)

    click.echo(render_result(result, language=language, as_json=as_json))
    sys.exit(0 if result.is_valid and result.status_checked else 1)


COMMANDS = (
    trust_bundle,
    verify,
)
