"""The ``darwaza`` command: serve, migrate, load demo data, check catalogues and the audit trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

import darwaza.models  # noqa: F401 (every table known before any session is used)
from darwaza.errors import DarwazaError
from darwaza.settings import InsecureSettings, Settings, get_settings

if TYPE_CHECKING:
    from darwaza.catalogue.definitions import Catalogue


def _settings() -> Settings:
    try:
        return get_settings()
    except InsecureSettings as error:
        raise click.ClickException(str(error)) from error


@click.group()
def main() -> None:
    """Darwaza: one door to every public service."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development only).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the pages and the API."""
    import uvicorn

    from darwaza.catalogue import CatalogueError, load_catalogue

    settings = _settings()
    try:
        load_catalogue(settings.catalogue_dir)
    except CatalogueError as error:
        raise click.ClickException(
            f"refusing to start, the catalogue is invalid:\n{error}"
        ) from error
    uvicorn.run(
        "darwaza.web.asgi:app",
        host=host,
        port=port,
        workers=workers if not reload else None,
        reload=reload,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        # The application logs each request itself, without the secrets some paths carry.
        access_log=False,
    )


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema."""
    from darwaza.migrate import upgrade_database

    upgrade_database(_settings(), revision)
    click.echo("Database is up to date.")


@main.command()
def demo() -> None:
    """Load demo agencies, services, officers and citizens (running it twice changes nothing)."""
    from darwaza.catalogue.loading import load_catalogue
    from darwaza.database import transaction
    from darwaza.demo.accounts import DEMO_CITIZENS, demo_staff, load_demo_data
    from darwaza.identity.numbers import format_cnic

    settings = _settings()
    if settings.env == "production":
        raise click.ClickException("demo data is never loaded in production")
    catalogue = load_catalogue(settings.catalogue_dir)
    with transaction(settings) as session:
        created = load_demo_data(session, settings=settings, catalogue=catalogue)
    click.echo(
        f"Demo data: {len(created)} created" + (": " + ", ".join(created) if created else "")
    )
    click.echo("")
    click.echo("Demo accounts (codes arrive in " + str(settings.outbox_dir / "sms.jsonl") + "):")
    for citizen in DEMO_CITIZENS:
        click.echo(f"  citizen  CNIC {format_cnic(citizen.cnic)}  ({citizen.full_name})")
    for person in demo_staff(catalogue):
        click.echo(f"  officer  {person.username} / {person.password}  ({person.agency_id})")
    click.echo("")
    click.echo("Officers' second factor is an authenticator app; for the demo accounts,")
    click.echo("`.venv/bin/darwaza demo-code USERNAME` prints the current code.")


@main.command("demo-code")
@click.argument("username")
def demo_code(username: str) -> None:
    """Print a demo officer's current authenticator code (never in production)."""
    import pyotp

    from darwaza.catalogue import load_catalogue
    from darwaza.demo.accounts import demo_staff

    settings = _settings()
    if settings.env == "production":
        raise click.ClickException("demo accounts do not exist in production")
    for person in demo_staff(load_catalogue(settings.catalogue_dir)):
        if person.username == username:
            click.echo(pyotp.TOTP(person.authenticator_seed).now())
            return
    raise click.ClickException(f"{username} is not a demo account")


@main.group()
def catalogue() -> None:
    """Service definitions."""


@catalogue.command("validate")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def catalogue_validate(path: Path) -> None:
    """Check a catalogue directory; name the file and field of every error."""
    from darwaza.catalogue import CatalogueError, load_catalogue

    try:
        loaded = load_catalogue(path)
    except CatalogueError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(
        f"Catalogue is valid: {len(loaded.agencies)} agencies, {len(loaded.services)} services, "
        f"{len(loaded.document_types)} document types."
    )


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain; report the first edited, deleted or inserted event."""
    from darwaza.agencies.key_material import public_key_from_jwk
    from darwaza.agencies.models import SigningKeyRecord
    from darwaza.audit.trail import verify_chain, verify_checkpoints
    from darwaza.database import transaction

    with transaction(_settings()) as session:
        result = verify_chain(session)

        def root_key_for(kid: object) -> object:
            record = session.get(SigningKeyRecord, kid) if isinstance(kid, str) else None
            if record is None or record.agency_id is not None:
                return None
            return public_key_from_jwk(record.public_jwk)

        checkpoint_problem = verify_checkpoints(session, public_key_for_kid=root_key_for)
    problem = result.first_problem or checkpoint_problem
    if problem is None:
        click.echo(f"Audit trail intact: {result.events_checked} events checked.")
        return
    click.echo(f"Audit trail broken: {problem}", err=True)
    sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the trail's current head with the root key now (the server also does it hourly)."""
    from darwaza.audit.trail import checkpoint_now

    at = checkpoint_now(_settings())
    click.echo(f"Signed a checkpoint at event {at}." if at else "Nothing new to sign.")


@main.group()
def staff() -> None:
    """Staff accounts (never created by sign-up)."""


@staff.command("create")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "agency_admin", "platform_admin", "auditor"]),
)
@click.option("--agency", "agency_id", default=None)
@click.option("--mobile", required=True)
@click.password_option(help="Prompted for when not given.")
def staff_create(
    username: str, full_name: str, role: str, agency_id: str | None, mobile: str, password: str
) -> None:
    """Create a staff account."""
    from darwaza.audit.trail import Actor
    from darwaza.database import transaction
    from darwaza.errors import DarwazaError
    from darwaza.i18n import translate
    from darwaza.identity.service import authenticator_uri, create_staff_member

    settings = _settings()
    try:
        with transaction(settings) as session:
            enrolment = create_staff_member(
                session,
                settings=settings,
                username=username,
                full_name=full_name,
                role=role,
                agency_id=agency_id,
                mobile=mobile,
                password=password,
                actor=Actor.operator(),
            )
    except DarwazaError as error:
        raise click.ClickException(
            translate("en", error.message.msgid, error.message.params)
        ) from error
    click.echo(f"Created {role} {username}.")
    click.echo("Add this to their authenticator app (shown once):")
    click.echo(f"  key: {enrolment.authenticator_seed}")
    click.echo(f"  uri: {authenticator_uri(enrolment.staff, enrolment.authenticator_seed)}")


def _app_parts() -> tuple[Settings, Catalogue]:
    from darwaza.catalogue import load_catalogue

    settings = _settings()
    return settings, load_catalogue(settings.catalogue_dir)


def _fail(error: DarwazaError) -> click.ClickException:
    from darwaza.i18n import translate

    lines = [translate("en", error.message.msgid, error.message.params)]
    lines += [f"  {name}: {translate('en', m.msgid, m.params)}" for name, m in error.fields.items()]
    return click.ClickException("\n".join(lines))


@main.group()
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
    from darwaza.audit.trail import Actor
    from darwaza.database import transaction
    from darwaza.documents.service import issue_document, status_list_url

    try:
        given = json.loads(claims_json)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--claims") from error
    if not isinstance(given, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--claims")
    settings, catalogue = _app_parts()
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
            out = {
                "id": document.id,
                "agency_id": document.agency_id,
                "document_type": document.document_type,
                "status": document.status,
                "issued_at": document.issued_at.isoformat(),
                "expires_at": document.expires_at.isoformat() if document.expires_at else None,
                "status_list": {
                    "uri": status_list_url(settings, document.status_list_id),
                    "idx": document.status_index,
                },
                "sd_jwt": document.sd_jwt,
                "qr": document.qr_text,
            }
    except DarwazaError as error:
        raise _fail(error) from error
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(f"Issued {out['document_type']} {out['id']}")
        click.echo(f"QR: {out['qr']}")


def _change_status(document_id: str, action: str, reason: str) -> None:
    from darwaza.audit.trail import Actor
    from darwaza.database import transaction
    from darwaza.documents.models import Document
    from darwaza.documents.service import change_document_status

    settings = _settings()
    try:
        with transaction(settings) as session:
            document = session.get(Document, document_id)
            if document is None:
                raise click.ClickException(f"no document {document_id}")
            change_document_status(
                session, document=document, action=action, reason=reason, actor=Actor.operator()
            )
            status = document.status
    except DarwazaError as error:
        raise _fail(error) from error
    click.echo(f"Document {document_id} is now {status}.")


for _action in ("suspend", "reinstate", "revoke"):

    def _command(document_id: str, reason: str, _action: str = _action) -> None:
        _change_status(document_id, _action, reason)

    _command.__doc__ = f"{_action.capitalize()} a document (verifiers see it at once)."
    documents.command(_action)(
        click.argument("document_id")(click.option("--reason", required=True)(_command))
    )


@main.group()
def keys() -> None:
    """Agencies' signing keys."""


@keys.command("rotate")
@click.option("--agency", "agency_id", required=True)
def keys_rotate(agency_id: str) -> None:
    """Retire the agency's signing key and make a new one (the old one stays published)."""
    from darwaza.agencies.keys import rotate_agency_key
    from darwaza.audit.trail import Actor
    from darwaza.database import transaction

    settings = _settings()
    try:
        with transaction(settings) as session:
            kid = rotate_agency_key(
                session, settings=settings, agency_id=agency_id, actor=Actor.operator()
            )
    except DarwazaError as error:
        raise _fail(error) from error
    click.echo(f"Agency {agency_id} now signs with key {kid}.")


@main.group()
def tokens() -> None:
    """API tokens for agencies' own systems."""


@tokens.command("create")
@click.option("--agency", "agency_id", required=True)
@click.option("--name", required=True, help="What system the token is for")
@click.option(
    "--scopes",
    required=True,
    help="Comma-separated: documents:issue, documents:status",
)
@click.option("--days", default=90, show_default=True, type=int, help="Days until it expires")
def tokens_create(agency_id: str, name: str, scopes: str, days: int) -> None:
    """Make a token; it is shown once and stored only as a hash."""
    from datetime import timedelta

    from darwaza.agencies.models import Agency
    from darwaza.audit.trail import Actor
    from darwaza.database import transaction
    from darwaza.identity.tokens import create_api_token

    try:
        with transaction(_settings()) as session:
            if session.get(Agency, agency_id) is None:
                raise click.ClickException(
                    f"no agency {agency_id} (run `darwaza demo` or check the id)"
                )
            created = create_api_token(
                session,
                agency_id=agency_id,
                name=name,
                scopes=[part.strip() for part in scopes.split(",") if part.strip()],
                lifetime=timedelta(days=days),
                actor=Actor.operator(),
            )
            token_id, expires = created.record.id, created.record.expires_at
    except DarwazaError as error:
        raise _fail(error) from error
    click.echo(f"Token {token_id} for {agency_id}, valid until {expires:%Y-%m-%d}.")
    click.echo("Keep it secret; it is not shown again:")
    click.echo(created.secret)


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """End a token at once."""
    from darwaza.audit.trail import Actor
    from darwaza.database import transaction
    from darwaza.identity.tokens import revoke_api_token

    try:
        with transaction(_settings()) as session:
            revoke_api_token(session, token_id=token_id, actor=Actor.operator())
    except DarwazaError as error:
        raise _fail(error) from error
    click.echo(f"Token {token_id} is revoked.")


@main.group()
def passkeys() -> None:
    """Citizens' passkeys."""


@passkeys.command("remove")
@click.option("--cnic", required=True)
@click.option(
    "--confirm-identity-checked",
    is_flag=True,
    required=True,
    help="Say that the person's identity was checked in person",
)
def passkeys_remove(cnic: str, confirm_identity_checked: bool) -> None:
    """Recovery: remove every passkey of a citizen, after checking who they are in person."""
    from sqlalchemy import select

    from darwaza.audit.trail import Actor
    from darwaza.database import transaction
    from darwaza.identity.models import Citizen
    from darwaza.identity.numbers import InvalidCnic, parse_cnic
    from darwaza.identity.passkeys import remove_passkeys

    try:
        digits = parse_cnic(cnic)
    except InvalidCnic as error:
        raise _fail(error) from error
    with transaction(_settings()) as session:
        citizen = session.scalar(select(Citizen).where(Citizen.cnic == digits))
        if citizen is None:
            raise click.ClickException("no account with that CNIC")
        removed = remove_passkeys(session, citizen=citizen, actor=Actor.operator())
    click.echo(f"Removed {removed} passkeys; codes by SMS sign this citizen in again.")


@main.group("trust-bundle")
def trust_bundle() -> None:
    """The signed list of trusted issuers, for offline verifiers."""


@trust_bundle.command("save")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def trust_bundle_save(path: Path) -> None:
    """Save the trust bundle and every status list to PATH, for checking without a network."""
    from darwaza.database import transaction
    from darwaza.verification.publishing import offline_package

    settings, catalogue = _app_parts()
    with transaction(settings) as session:
        package = offline_package(session, settings=settings, catalogue=catalogue)
    path.write_text(json.dumps(package, indent=1), encoding="utf-8")
    click.echo(f"Saved the trust bundle and {len(package['status_lists'])} status lists to {path}.")
    click.echo(f"Root key id (pin it with --root-kid): {package['root_kid']}")


@main.command()
@click.argument("credential")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
@click.option(
    "--offline", is_flag=True, help="Use only a saved trust bundle; no network, no database"
)
@click.option(
    "--trust-bundle", "bundle_path", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--root-kid",
    default=None,
    help="Pin the platform's root key id (printed by `trust-bundle save`)",
)
@click.option("--language", default="en", type=click.Choice(["en", "ur"]))
def verify(
    credential: str,
    as_json: bool,
    offline: bool,
    bundle_path: Path | None,
    root_kid: str | None,
    language: str,
) -> None:
    """Check a document: QR text, an SD-JWT, a share link, or an image file of a QR code.

    Exits 0 only when the document is valid and its status was checked; 1 otherwise.
    """
    from darwaza.verification.offline import verify_offline, verify_online

    text = credential
    candidate = Path(credential)
    try:
        is_file = len(credential) < 1024 and candidate.is_file()
    except OSError:  # a long credential is not a file name
        is_file = False
    if is_file:
        content = candidate.read_bytes()
        from darwaza.verification.views import read_qr_image

        decoded = read_qr_image(content)
        text = decoded if decoded is not None else content.decode("utf-8", "replace").strip()
    if offline:
        if bundle_path is None:
            raise click.UsageError("--offline needs --trust-bundle FILE")
        result = verify_offline(text, bundle_path, root_kid)
    else:
        result = verify_online(text, root_kid=root_kid)
    from darwaza.verification.offline import render_result

    click.echo(render_result(result, language=language, as_json=as_json))
    sys.exit(0 if result.verdict.value == "valid" and result.status_checked else 1)


if __name__ == "__main__":
    main()
