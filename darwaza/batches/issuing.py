"""The worker's side of bulk issuance: one job per chunk of rows, one transaction each.

A chunk signs its pending rows (SD-JWT and QR), gives each a status-list slot and writes
the documents with ids derived from their natural keys, then marks the rows and adds to
the batch's counters. The job queue runs the handler in the transaction that marks the
job done, fenced by its attempt: a worker killed mid-chunk leaves nothing behind and the
chunk runs again; a row whose document exists already (another worker, an earlier
register) is counted as already issued, never signed twice.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from darwaza.batches.checking import CHECK_REGISTER_JOB, check_uploaded
from darwaza.batches.merkle import document_digest
from darwaza.batches.models import Batch, BatchProblem, BatchRow, RowStatus
from darwaza.batches.service import ISSUE_CHUNK_JOB, finish_if_complete
from darwaza.batches.workflow import BatchState
from darwaza.catalogue import Catalogue, load_catalogue
from darwaza.clock import utcnow
from darwaza.database import table_of
from darwaza.documents.models import Document
from darwaza.documents.service import BulkItem, issue_documents_in_bulk
from darwaza.errors import DarwazaError
from darwaza.identity.contact import link, tell_citizen
from darwaza.identity.models import Citizen
from darwaza.jobs import JobContext, JobRegistry
from darwaza.settings import Settings

_ROWS = table_of(BatchRow)
# One statement, run for every row of a chunk (Core: the ORM's bulk update by primary
# key costs more in Python than the database spends on it).
_MARK_ROW = (
    update(_ROWS)
    .where(_ROWS.c.id == bindparam("row_id"))
    .values(status=bindparam("new_status"), document_digest=bindparam("digest"))
)


class ChunkCollided(Exception):
    """A row of the chunk was issued by another writer meanwhile: try the chunk again."""


class BatchStoppedMeanwhile(Exception):
    """The batch was paused or cancelled while this chunk was signing: roll it back."""


def issue_chunk(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    batch_id: str,
    first_row: int,
    last_row: int,
) -> int:
    """Issue the pending rows ``first_row``..``last_row`` of a batch; returns how many."""
    batch = db.get(Batch, batch_id)
    if batch is None or batch.state != BatchState.ISSUING:
        return 0  # paused, cancelled or gone: a resume queues the rows again
    # Plain rows, not ORM objects: a chunk reads and updates hundreds at once. A row whose
    # document exists already (another worker, an earlier register) is found in the same
    # read.
    in_chunk = (
        BatchRow.batch_id == batch_id,
        BatchRow.status == RowStatus.PENDING,
        BatchRow.row_number.between(first_row, last_row),
    )
    rows = db.execute(
        select(BatchRow.id, BatchRow.row_number, BatchRow.document_id, BatchRow.holder_cnic)
        .add_columns(BatchRow.claims, Document.id.is_not(None).label("exists"))
        .outerjoin(Document, Document.id == BatchRow.document_id)
        .where(*in_chunk)
        .order_by(BatchRow.row_number)
    ).all()
    if not rows:
        return 0
    existing = {row.document_id for row in rows if row.exists}
    fresh = [row for row in rows if not row.exists]
    try:
        results = issue_documents_in_bulk(
            db,
            settings=settings,
            catalogue=catalogue,
            agency_id=batch.agency_id,
            document_type_id=batch.document_type,
            items=[
                BulkItem(str(row.document_id), str(row.holder_cnic), row.claims) for row in fresh
            ],
        )
    except IntegrityError:
        # Another writer issued one of these rows at the same moment. The job is retried
        # and then counts that row as already issued. The database's message is dropped:
        # it quotes the rows (names, CNICs), and the queue logs what a job raised.
        raise ChunkCollided(f"batch {batch_id} rows {first_row}-{last_row}") from None
    issued = failed = 0
    problems: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = [
        {"row_id": row.id, "new_status": RowStatus.ALREADY_ISSUED, "digest": None}
        for row in rows
        if row.document_id in existing
    ]
    for row, result in zip(fresh, results, strict=True):
        if isinstance(result, DarwazaError):
            failed += 1
            changes.append({"row_id": row.id, "new_status": RowStatus.FAILED, "digest": None})
            fields = result.fields or {"": result.message}
            problems += [
                {
                    "batch_id": batch_id,
                    "row_number": row.row_number,
                    "column": column[:100],
                    "msgid": message.msgid,
                    "params": dict(message.params),
                }
                for column, message in fields.items()
            ]
        else:
            issued += 1
            digest = document_digest(result.sd_jwt)
            changes.append({"row_id": row.id, "new_status": RowStatus.ISSUED, "digest": digest})
    db.execute(_MARK_ROW, changes)
    _tell_holders(
        db,
        settings=settings,
        catalogue=catalogue,
        batch=batch,
        chunk=select(BatchRow.holder_cnic).where(
            BatchRow.batch_id == batch_id, BatchRow.row_number.between(first_row, last_row)
        ),
        issued=[
            row
            for row, result in zip(fresh, results, strict=True)
            if not isinstance(result, DarwazaError)
        ],
    )
    if problems:
        db.execute(insert(BatchProblem), problems)
    # The batch row is locked only now, briefly: chunks of one batch sign side by side.
    db.execute(
        update(Batch)
        .where(Batch.id == batch_id)
        .values(
            issued_count=Batch.issued_count + issued,
            failed_count=Batch.failed_count + failed,
            already_issued_count=Batch.already_issued_count + len(existing),
        )
    )
    batch = db.get(Batch, batch_id, with_for_update=True, populate_existing=True)
    assert batch is not None
    if batch.state != BatchState.ISSUING:
        raise BatchStoppedMeanwhile(batch_id)
    finish_if_complete(db, batch=batch)
    return issued


def _tell_holders(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    batch: Batch,
    chunk: Select[Any],
    issued: list[Any],
) -> None:
    """Tell the holders who have proven accounts that their document is in the wallet.

    The others find it when they sign up and prove their CNIC. The texts of a large batch
    are spread out: this chunk's go no sooner than the batch's earlier documents take at
    the platform's cap of texts per minute, so a register never floods the gateway.
    """
    by_cnic = {str(row.holder_cnic): row for row in issued}
    if not by_cnic:
        return
    # The chunk's CNICs are matched in the database (a subquery, not hundreds of values
    # sent back to it); a row that failed has no document to tell about.
    holders = [
        citizen
        for citizen in db.scalars(
            select(Citizen).where(Citizen.cnic.in_(chunk), Citizen.identity_proven_at.is_not(None))
        )
        if citizen.cnic in by_cnic
    ]
    if not holders:
        return
    document_type = catalogue.document_types[batch.document_type]
    agency = catalogue.agencies.get(batch.agency_id)
    send_after = utcnow() + timedelta(minutes=batch.issued_count // settings.sms_per_minute)
    for citizen in holders:
        language = citizen.preferred_language or "en"
        row = by_cnic[citizen.cnic]
        tell_citizen(
            db,
            settings=settings,
            citizen=citizen,
            event="document_received",
            values={
                "document": document_type.title.in_language(language),
                "issuer": agency.name.in_language(language) if agency else batch.agency_id,
                "link": link(settings, f"/wallet/{row.document_id}"),
            },
            reference=str(row.document_id),
            send_after=send_after,
        )


@functools.cache
def _catalogue(directory: Path) -> Catalogue:
    # A worker reads the catalogue once, not once per chunk.
    return load_catalogue(directory)


def _issue_chunk_job(context: JobContext) -> None:
    payload = context.payload
    issue_chunk(
        context.db,
        settings=context.settings,
        catalogue=_catalogue(context.settings.catalogue_dir),
        batch_id=str(payload["batch_id"]),
        first_row=int(payload["first_row"]),
        last_row=int(payload["last_row"]),
    )


def _check_register_job(context: JobContext) -> None:
    check_uploaded(
        context.db,
        settings=context.settings,
        catalogue=_catalogue(context.settings.catalogue_dir),
        batch_id=str(context.payload["batch_id"]),
    )


def register_batch_jobs(registry: JobRegistry) -> None:
    """Add bulk issuance's handlers to the worker's registry: both keep a processor busy."""
    registry.add(CHECK_REGISTER_JOB, _check_register_job, heavy=True)
    registry.add(ISSUE_CHUNK_JOB, _issue_chunk_job, heavy=True)
