"""Bulk issuance from the command line: upload a register, approve, follow, prove."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from sqlalchemy import select
from tqdm import tqdm

from darwaza.audit.actors import Actor
from darwaza.batches import checking, service
from darwaza.batches.api import batch_read
from darwaza.batches.models import Batch
from darwaza.cli.common import app_parts, failure, load_settings
from darwaza.database import session_factory, transaction
from darwaza.errors import DarwazaError
from darwaza.i18n import translate
from darwaza.identity.models import StaffMember
from darwaza.settings import Settings


def _summary(settings: Settings, batch_id: str) -> dict[str, object]:
    with session_factory(settings, immediate=False)() as db:
        batch = db.get(Batch, batch_id)
        assert batch is not None
        return batch_read(batch, service.problem_count(db, batch_id=batch_id)).model_dump(
            mode="json"
        )


def _wait(settings: Settings, batch_id: str, *, quiet: bool) -> dict[str, object]:
    """Poll the batch until it ends, drawing a progress bar on stderr."""
    summary = _summary(settings, batch_id)
    progress = dict(summary["progress"])  # type: ignore[call-overload]
    bar = tqdm(total=progress["valid"], unit="doc", disable=quiet, file=sys.stderr)
    while True:
        progress = dict(summary["progress"])  # type: ignore[call-overload]
        done = progress["issued"] + progress["already_issued"] + progress["failed"]
        bar.update(done - bar.n)
        bar.set_postfix(failed=progress["failed"], left=progress["left"])
        if summary["state"] in ("done", "cancelled", "checked", "uploaded"):
            break
        time.sleep(0.5)
        summary = _summary(settings, batch_id)
    bar.close()
    return summary


def _print(summary: dict[str, object], *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    progress = dict(summary["progress"])  # type: ignore[call-overload]
    click.echo(f"Batch {summary['id']}: {summary['state']}")
    click.echo(
        f"  rows {progress['rows']}, can be issued {progress['valid']}, "
        f"with problems {progress['invalid']}, report lines {summary['problems']}"
    )
    click.echo(
        f"  issued {progress['issued']}, already issued {progress['already_issued']}, "
        f"failed {progress['failed']}, left {progress['left']}"
    )
    if progress.get("per_second"):
        click.echo(f"  {progress['per_second']} documents a second")


@click.command("bulk")
@click.argument("register", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", "agency_id", required=True)
@click.option("--type", "document_type", required=True)
@click.option("--mapping", "mapping_json", default="{}", help="JSON: file column -> claim name")
@click.option(
    "--approve-as", default=None, help="Approve at once as this officer (not the uploader)"
)
@click.option("--wait/--no-wait", default=False, help="Follow the issuing with a progress bar")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary")
def documents_bulk(
    register: Path,
    agency_id: str,
    document_type: str,
    mapping_json: str,
    approve_as: str | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Upload and check a register (CSV or XLSX); nothing is issued until an officer approves.

    The worker (`darwaza worker`) issues an approved batch in chunks, each row once.
    """
    try:
        mapping = json.loads(mapping_json)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--mapping") from error
    settings, catalogue = app_parts()
    try:
        with transaction(settings) as db, register.open("rb") as source:
            batch = checking.upload_register(
                db,
                settings=settings,
                catalogue=catalogue,
                agency_id=agency_id,
                document_type_id=document_type,
                source=source,
                file_name=register.name,
                mapping=mapping,
                actor=Actor.operator(),
                check_now=True,  # the report is printed below, before any worker runs
            )
            batch_id = batch.id
            if not as_json:
                for problem in service.report_problems(db, batch_id=batch_id, limit=20):
                    text = translate("en", problem.msgid, problem.params)
                    click.echo(f"  row {problem.row_number} {problem.column}: {text}", err=True)
        if approve_as:
            _approve(settings, batch_id, approve_as)
    except DarwazaError as error:
        raise failure(error) from error
    summary = _wait(settings, batch_id, quiet=as_json) if wait else _summary(settings, batch_id)
    _print(summary, as_json=as_json)


def _approve(settings: Settings, batch_id: str, username: str) -> None:
    with transaction(settings) as db:
        officer = db.scalar(select(StaffMember).where(StaffMember.username == username))
        if officer is None or not officer.role.works_cases:
            raise click.ClickException(f"no officer called {username}")
        batch = service.agency_batch(
            db, agency_id=officer.agency_id or "", batch_id=batch_id, lock=True
        )
        service.approve_batch(db, batch=batch, actor=Actor.staff(officer.id))


@click.command("bulk-approve")
@click.argument("batch_id")
@click.option("--officer", "username", required=True, help="The approving officer's username")
def documents_bulk_approve(batch_id: str, username: str) -> None:
    """Approve a checked batch as an officer of its agency (not the one who uploaded it)."""
    settings = load_settings()
    try:
        _approve(settings, batch_id, username)
    except DarwazaError as error:
        raise failure(error) from error
    click.echo(f"Batch {batch_id} approved: the worker is issuing it.")


@click.command("bulk-status")
@click.argument("batch_id")
@click.option("--wait/--no-wait", default=False, help="Follow the issuing with a progress bar")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary")
def documents_bulk_status(batch_id: str, wait: bool, as_json: bool) -> None:
    """A batch's state and progress: issued, failed, left, rate."""
    settings = load_settings()
    with session_factory(settings, immediate=False)() as db:
        if db.get(Batch, batch_id) is None:
            raise click.ClickException(f"no batch {batch_id}")
    summary = _wait(settings, batch_id, quiet=as_json) if wait else _summary(settings, batch_id)
    _print(summary, as_json=as_json)


@click.command("proof")
@click.argument("document_id")
def documents_proof(document_id: str) -> None:
    """Print the inclusion proof of a bulk-issued document under its batch's Merkle root."""
    settings = load_settings()
    with session_factory(settings, immediate=False)() as db:
        try:
            found = service.document_proof(db, document_id=document_id)
        except DarwazaError as error:
            raise failure(error) from error
    click.echo(
        json.dumps(
            {
                "document_id": found.document_id,
                "batch_id": found.batch_id,
                "leaf_index": found.proof.index,
                "digest": found.proof.digest,
                "path": [{"side": side, "hash": h} for side, h in found.proof.path],
                "root": found.proof.root,
                "recorded_root": found.recorded_root,
                "matches": found.proof.root == found.recorded_root,
            },
            indent=2,
        )
    )


COMMANDS = (documents_bulk, documents_bulk_approve, documents_bulk_status, documents_proof)
