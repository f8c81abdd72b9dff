"""Staff accounts, agencies' API tokens, citizens' passkeys."""

from __future__ import annotations

from datetime import timedelta

import click

from darwaza.agencies.models import Agency
from darwaza.audit.actors import Actor
from darwaza.cli.common import failure, load_settings
from darwaza.database import transaction
from darwaza.errors import DarwazaError
from darwaza.i18n import translate
from darwaza.identity.passkeys import remove_passkeys
from darwaza.identity.proofing import SimRegistryFile, demo_sim_registry
from darwaza.identity.service import citizen_by_cnic, record_in_person_check
from darwaza.identity.staff import authenticator_uri, create_staff_member
from darwaza.identity.tokens import create_api_token, revoke_api_token
from darwaza.numbers import parse_cnic, parse_mobile


@click.group()
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

    settings = load_settings()
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


@click.group()
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

    try:
        with transaction(load_settings()) as session:
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
        raise failure(error) from error
    click.echo(f"Token {token_id} for {agency_id}, valid until {expires:%Y-%m-%d}.")
    click.echo("Keep it secret; it is not shown again:")
    click.echo(created.secret)


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """End a token at once."""

    try:
        with transaction(load_settings()) as session:
            revoke_api_token(session, token_id=token_id, actor=Actor.operator())
    except DarwazaError as error:
        raise failure(error) from error
    click.echo(f"Token {token_id} is revoked.")


@click.group()
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
    try:
        settings = load_settings()
        with transaction(settings) as session:
            citizen = citizen_by_cnic(session, cnic=cnic)
            removed = remove_passkeys(
                session, settings=settings, citizen=citizen, actor=Actor.operator()
            )
    except DarwazaError as error:
        raise failure(error) from error
    click.echo(f"Removed {removed} passkeys; codes by SMS sign this citizen in again.")


@click.group()
def identity() -> None:
    """Proving that a person holds their CNIC."""


@identity.command("prove")
@click.option("--cnic", required=True)
@click.option("--mobile", default=None, help="The number the person brought, if it changes")
@click.option(
    "--confirm-identity-checked",
    is_flag=True,
    required=True,
    help="Say that the person's identity was checked in person, against NADRA's records",
)
def identity_prove(cnic: str, mobile: str | None, confirm_identity_checked: bool) -> None:
    """Record an in-person identity check: the account now holds what is issued to the CNIC.

    With --mobile, the account's number changes to the one the person brought and every
    session of whoever held the account ends (a stranger who signed up with this CNIC).
    """
    try:
        with transaction(load_settings()) as session:
            citizen = citizen_by_cnic(session, cnic=cnic)
            record_in_person_check(session, citizen=citizen, mobile=mobile, actor=Actor.operator())
    except DarwazaError as error:
        raise failure(error) from error
    click.echo("Identity checked in person; the account holds what is issued to its CNIC.")


@identity.command("register-sim")
@click.option("--cnic", required=True)
@click.option("--mobile", required=True)
def identity_register_sim(cnic: str, mobile: str) -> None:
    """Demo only: write a number under a CNIC in the demo SIM registry file."""
    settings = load_settings()
    if settings.env == "production":
        raise click.ClickException("the demo SIM registry is never used in production")
    try:
        cnic_digits, number = parse_cnic(cnic), parse_mobile(mobile)
    except DarwazaError as error:
        raise failure(error) from error
    SimRegistryFile(demo_sim_registry(settings)).register(cnic=cnic_digits, mobile=number)
    click.echo("The demo SIM registry now lists that number under that CNIC.")


COMMANDS = (
    identity,
    staff,
    tokens,
    passkeys,
)
