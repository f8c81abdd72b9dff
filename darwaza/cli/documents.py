"""Signed documents and the keys that sign them."""

from __future__ import annotations

import json

import click

from darwaza.agencies.keys import reseal_legacy_keys, rotate_agency_key
from darwaza.audit.actors import Actor
from darwaza.catalogue.loading import load_catalogue
from darwaza.cli import batches
from darwaza.cli.common import app_parts, failure, load_settings
from darwaza.crypto.keys import KeySealingError
from darwaza.database import transaction
from darwaza.documents.api import document_read
from darwaza.documents.models import Document
from darwaza.documents.service import change_document_status, issue_document
from darwaza.errors import DarwazaError


@click.group()
def documents() -> None:
    """Signed documents: issue, suspend, reinstate, revoke."""


@documents.command("issue")
@click.option("--agency", "agency_id", required=True)
@click.option("--type", "document_type", required=True)
@click.option("--cnic", required=True)
@click.option(
    "--claims", "claims_json", default="{}", show_default=True, help="JSON object of claim values"
)
@click.option(
    "--idempotency-key", default=None, help="A retry with the same key issues nothing new"
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def documents_issue(
    agency_id: str,
    document_type: str,
    cnic: str,
    claims_json: str,
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    """Issue a document directly, as an agency's own system would."""

    try:
        given = json.loads(claims_json)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--claims") from error
    if not isinstance(given, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--claims")
    settings, catalogue = app_parts()
    try:
        with transaction(settings) as session:
            document = issue_document(
                session,
                settings=settings,
                catalogue=catalogue,
                agency_id=agency_id,
                document_type_id=document_type,
                holder_cnic=cnic,
                given_claims=given,
                idempotency_key=idempotency_key,
                actor=Actor.operator(),
            )
            out = document_read(document, settings).model_dump(mode="json")
    except DarwazaError as error:
        raise failure(error) from error
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(f"Issued {out['document_type']} {out['id']}")
        click.echo(f"QR: {out['qr']}")


def _change_status(document_id: str, action: str, reason: str) -> None:

    settings = load_settings()
    try:
        with transaction(settings) as session:
            document = session.get(Document, document_id)
            if document is None:
                raise click.ClickException(f"no document {document_id}")
            change_document_status(
                session,
                settings=settings,
                catalogue=load_catalogue(settings.catalogue_dir),
                document=document,
                action=action,
                reason=reason,
                actor=Actor.operator(),
            )
            status = document.status
    except DarwazaError as error:
        raise failure(error) from error
    click.echo(f"Document {document_id} is now {status}.")


for _action in ("suspend", "reinstate", "revoke"):

    def _command(document_id: str, reason: str, _action: str = _action) -> None:
        _change_status(document_id, _action, reason)

    _command.__doc__ = f"{_action.capitalize()} a document (verifiers see it at once)."
    documents.command(_action)(
        click.argument("document_id")(click.option("--reason", required=True)(_command))
    )


@click.group()
def keys() -> None:
    """Agencies' signing keys."""


@keys.command("rotate")
@click.option("--agency", "agency_id", required=True)
def keys_rotate(agency_id: str) -> None:
    """Retire the agency's signing key and make a new one (the old one stays published)."""

    settings = load_settings()
    try:
        with transaction(settings) as session:
            kid = rotate_agency_key(
                session, settings=settings, agency_id=agency_id, actor=Actor.operator()
            )
    except DarwazaError as error:
        raise failure(error) from error
    click.echo(f"Agency {agency_id} now signs with key {kid}.")


@keys.command("reseal")
def keys_reseal() -> None:
    """Seal keys stored before sealing named the key and its agency (DZK1) the new way."""

    settings = load_settings()
    try:
        with transaction(settings) as session:
            resealed = reseal_legacy_keys(session, settings=settings, actor=Actor.operator())
    except KeySealingError as error:
        message = f"Nothing was resealed: a key cannot be opened ({error})."
        raise click.ClickException(message) from error
    click.echo(f"Resealed {len(resealed)} keys, each bound to its key id and agency.")


for _bulk_command in batches.COMMANDS:
    documents.add_command(_bulk_command)

COMMANDS = (
    documents,
    keys,
)
