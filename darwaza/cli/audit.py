"""The audit trail: check it, sign its head."""

from __future__ import annotations

import sys

import click

from darwaza.agencies.keys import root_public_key, sign_audit_checkpoint
from darwaza.audit.trail import verify_chain, verify_checkpoints
from darwaza.cli.common import load_settings
from darwaza.database import transaction


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain and its signed checkpoints; name the first broken event."""
    with transaction(load_settings()) as session:
        chain = verify_chain(session)
        checkpoints = verify_checkpoints(
            session, public_key_for_kid=lambda kid: root_public_key(session, kid=kid)
        )
    problem = chain.first_problem or checkpoints
    if problem is None:
        click.echo(f"Audit trail intact: {chain.events_checked} events checked.")
        return
    click.echo(f"Audit trail broken: {problem}", err=True)
    sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the trail's current head with the root key now (the server also does it hourly)."""
    settings = load_settings()
    with transaction(settings) as session:
        at = sign_audit_checkpoint(session, settings=settings)
    click.echo(f"Signed a checkpoint at event {at}." if at else "Nothing new to sign.")


COMMANDS = (audit,)
