"""The audit trail: check it, sign its head."""

from __future__ import annotations

import sys

import click

from darwaza.agencies.keys import root_public_key, sign_audit_checkpoint
from darwaza.audit.anchors import checkpoint_anchor_for
from darwaza.audit.trail import sequence_all, verify_chain, verify_checkpoints
from darwaza.batches.service import verify_batch_roots
from darwaza.cli.common import load_settings
from darwaza.database import transaction


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Chain what is waiting, then check the chain and every checkpoint, in the database and
    anchored outside it; name the first broken event and say how much no checkpoint covers."""
    settings = load_settings()
    with transaction(settings) as session:
        sequence_all(session)
    with transaction(settings) as session:
        chain = verify_chain(session)
        checkpoints = verify_checkpoints(
            session,
            public_key_for_kid=lambda kid: root_public_key(session, kid=kid),
            anchored=checkpoint_anchor_for(settings).signed_checkpoints(),
        )
        roots = verify_batch_roots(session)
    problem = chain.first_problem or checkpoints.problem or next(iter(roots.problems), None)
    if problem is not None:
        click.echo(f"Audit trail broken: {problem}", err=True)
        sys.exit(1)
    click.echo(f"Audit trail intact: {chain.events_checked} events checked.")
    if roots.batches_checked:
        click.echo(
            f"Merkle roots of {roots.batches_checked} finished batches match their documents."
        )
    uncovered = chain.events_checked - checkpoints.covered_up_to
    if uncovered:
        click.echo(
            f"{uncovered} of them are not yet covered by a checkpoint anchored outside the "
            "database (`darwaza audit checkpoint` signs one now)."
        )
    else:
        click.echo("Every event is covered by a checkpoint anchored outside the database.")


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the trail's current head with the root key now (the server also does it hourly)."""
    settings = load_settings()
    with transaction(settings) as session:
        at = sign_audit_checkpoint(session, settings=settings)
    click.echo(f"Signed a checkpoint at event {at}." if at else "Nothing new to sign.")


COMMANDS = (audit,)
