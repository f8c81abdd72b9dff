"""Bulk issuance once a register is checked (`checking`): approve it (four eyes), pause,
resume, cancel, follow its progress, change its documents' status, prove one document's
place.

Functions take keyword arguments and the actor, write their audit event in the caller's
transaction and never commit. Absent and another agency's batches both answer 404.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditEvent
from darwaza.audit.trail import record_event
from darwaza.batches.merkle import InclusionProof, inclusion_proof, merkle_root
from darwaza.batches.models import Batch, BatchProblem, BatchRow, RowStatus
from darwaza.batches.natural_keys import document_id_for, typed_key
from darwaza.batches.registers import (
    report_csv_line,
)
from darwaza.batches.workflow import BatchAction, BatchState, next_state
from darwaza.catalogue import Catalogue
from darwaza.clock import utcnow
from darwaza.documents.models import Document
from darwaza.documents.service import change_statuses_in_bulk
from darwaza.errors import Conflict, Forbidden, NotFound
from darwaza.i18n import N_, translate
from darwaza.jobs import NewJob, Priority, enqueue_all
from darwaza.settings import Settings

ISSUE_CHUNK_JOB: Final = "batches.issue_chunk"
CHUNK_SIZE: Final = 500
_STREAM_EVERY: Final = 1000  # rows read at a time from a long result
PREVIEW_ROWS: Final = 5


class FourEyes(Forbidden):
    code = "four_eyes"
    default_message = N_("Another officer of the agency must approve a register you uploaded.")


def actor_key(actor: Actor) -> str:
    """How a batch remembers who uploaded or approved it."""
    return f"{actor.kind}:{actor.id or ''}"


def move_batch(
    db: Session,
    *,
    batch: Batch,
    action: BatchAction,
    actor: Actor,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Take one step of the state machine and write its audit event with the Merkle root."""
    before = batch.state
    batch.state = next_state(batch.state, action)
    batch.updated_at = utcnow()
    if batch.state in (BatchState.PAUSED, BatchState.DONE, BatchState.CANCELLED):
        batch.merkle_root = batch_merkle_root(db, batch_id=batch.id)
    record_event(
        db,
        actor=actor,
        action=f"batch.{action}",
        object_type="batch",
        object_id=batch.id,
        before={"state": before},
        after={
            "state": batch.state,
            "rows": batch.row_count,
            "valid": batch.valid_count,
            "issued": batch.issued_count,
            "already_issued": batch.already_issued_count,
            "failed": batch.failed_count,
            "merkle_root": batch.merkle_root,
            **(extra or {}),
        },
    )


def batch_digests(db: Session, *, batch_id: str) -> list[str]:
    """The digests of the batch's issued documents, in row order: the tree's leaves."""
    return list(
        db.scalars(
            select(BatchRow.document_digest)
            .where(BatchRow.batch_id == batch_id, BatchRow.status == RowStatus.ISSUED)
            .order_by(BatchRow.row_number)
        )
    )


def batch_merkle_root(db: Session, *, batch_id: str) -> str | None:
    """The Merkle root over the batch's issued documents so far (streamed: a register of
    millions is not held in memory)."""
    return merkle_root(
        db.scalars(
            select(BatchRow.document_digest)
            .where(BatchRow.batch_id == batch_id, BatchRow.status == RowStatus.ISSUED)
            .order_by(BatchRow.row_number),
            execution_options={"yield_per": _STREAM_EVERY},
        )
    )


def agency_batch(db: Session, *, agency_id: str, batch_id: str, lock: bool = False) -> Batch:
    """A batch of the agency, or 404; ``lock`` before changing its state."""
    batch = db.get(Batch, batch_id, with_for_update=lock, populate_existing=lock)
    if batch is None or batch.agency_id != agency_id:
        raise NotFound()
    return batch


def agency_batches(db: Session, *, agency_id: str, limit: int = 50) -> Sequence[Batch]:
    """The agency's batches, newest first."""
    return db.scalars(
        select(Batch)
        .where(Batch.agency_id == agency_id)
        .order_by(Batch.created_at.desc())
        .limit(limit)
    ).all()


def approve_batch(db: Session, *, batch: Batch, actor: Actor) -> Batch:
    """A second officer approves a checked batch; its chunks go on the queue at once."""
    if actor_key(actor) == batch.uploaded_by:
        raise FourEyes()
    if not batch.header_ok or batch.left == 0:
        next_state(batch.state, BatchAction.APPROVE)  # the state's own refusal comes first
        raise Conflict(N_("This register has no row that can be issued."))
    move_batch(db, batch=batch, action=BatchAction.APPROVE, actor=actor)
    batch.approved_by = actor_key(actor)
    batch.approved_at = utcnow()
    _start_run(db, batch=batch, action=BatchAction.START, actor=Actor.system())
    return batch


def _start_run(db: Session, *, batch: Batch, action: BatchAction, actor: Actor) -> None:
    move_batch(db, batch=batch, action=action, actor=actor)
    batch.runs += 1
    if batch.issuing_started_at is None:
        batch.issuing_started_at = utcnow()
    last = db.scalar(select(func.max(BatchRow.row_number)).where(BatchRow.batch_id == batch.id))
    # One statement for every chunk (2,000 for a million rows), not two per chunk.
    enqueue_all(
        db,
        [
            NewJob(
                kind=ISSUE_CHUNK_JOB,
                payload={
                    "batch_id": batch.id,
                    "first_row": first,
                    "last_row": first + batch.chunk_size - 1,
                },
                idempotency_key=f"batch:{batch.id}:run:{batch.runs}:rows:{first}",
                priority=Priority.BULK,
            )
            for first in range(2, (last or 1) + 1, batch.chunk_size)
        ],
    )


def pause_batch(db: Session, *, batch: Batch, actor: Actor) -> Batch:
    """Stop issuing after the chunks in hand; resume carries on where it stopped."""
    move_batch(db, batch=batch, action=BatchAction.PAUSE, actor=actor)
    return batch


def resume_batch(db: Session, *, batch: Batch, actor: Actor) -> Batch:
    """Issue the rows still pending."""
    _start_run(db, batch=batch, action=BatchAction.RESUME, actor=actor)
    return batch


def cancel_batch(db: Session, *, batch: Batch, actor: Actor) -> Batch:
    """Issue nothing more from this batch; what was issued stays issued."""
    move_batch(db, batch=batch, action=BatchAction.CANCEL, actor=actor)
    batch.finished_at = utcnow()
    return batch


def finish_if_complete(db: Session, *, batch: Batch) -> None:
    """Called by the worker after a chunk (batch row locked): the last chunk finishes it."""
    if batch.state == BatchState.ISSUING and batch.left == 0:
        move_batch(db, batch=batch, action=BatchAction.FINISH, actor=Actor.system())
        batch.finished_at = utcnow()


@dataclass(frozen=True)
class Progress:
    """How far a batch has got, for the console, the API and the command line."""

    state: str
    rows: int
    valid: int
    invalid: int
    issued: int
    already_issued: int
    failed: int
    left: int
    per_second: float | None
    seconds_left: int | None
    percent: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def progress_of(batch: Batch) -> Progress:
    """Done, failed and left, the rate since issuing began, and the time that remains."""
    done = batch.issued_count + batch.already_issued_count + batch.failed_count
    rate = None
    seconds_left = None
    if batch.issuing_started_at is not None and batch.issued_count:
        until = batch.finished_at or utcnow()
        elapsed = max((until - batch.issuing_started_at).total_seconds(), 0.001)
        rate = round(batch.issued_count / elapsed, 1)
        seconds_left = round(batch.left / rate) if rate and not batch.state.finished else 0
    total = batch.valid_count or 1
    return Progress(
        state=batch.state,
        rows=batch.row_count,
        valid=batch.valid_count,
        invalid=batch.invalid_count,
        issued=batch.issued_count,
        already_issued=batch.already_issued_count,
        failed=batch.failed_count,
        left=batch.left,
        per_second=rate,
        seconds_left=seconds_left,
        percent=100 if batch.valid_count == 0 else min(100, done * 100 // total),
    )


def report_problems(
    db: Session, *, batch_id: str, limit: int | None = None
) -> Sequence[BatchProblem]:
    """The report's lines, header first, then by row."""
    query = (
        select(BatchProblem)
        .where(BatchProblem.batch_id == batch_id)
        .order_by(BatchProblem.row_number, BatchProblem.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return db.scalars(query).all()


def problem_count(db: Session, *, batch_id: str) -> int:
    """How many lines the batch's report has."""
    return int(
        db.scalar(
            select(func.count()).select_from(BatchProblem).where(BatchProblem.batch_id == batch_id)
        )
        or 0
    )


def preview_rows(db: Session, *, batch_id: str, limit: int = PREVIEW_ROWS) -> Sequence[BatchRow]:
    """The first rows as they will be issued."""
    return db.scalars(
        select(BatchRow)
        .where(BatchRow.batch_id == batch_id, BatchRow.status != RowStatus.INVALID)
        .order_by(BatchRow.row_number)
        .limit(limit)
    ).all()


def report_csv(db: Session, *, batch_id: str, chunk: int = 1000) -> Iterator[str]:
    """The report as CSV lines in English and Urdu, safe to open in a spreadsheet."""
    yield report_csv_line(["row", "column", "message_en", "message_ur"])
    after = -1
    while True:
        part = db.scalars(
            select(BatchProblem)
            .where(BatchProblem.batch_id == batch_id, BatchProblem.id > after)
            .order_by(BatchProblem.id)
            .limit(chunk)
        ).all()
        if not part:
            return
        for problem in part:
            yield report_csv_line(
                [
                    str(problem.row_number),
                    problem.column,
                    translate("en", problem.msgid, problem.params),
                    translate("ur", problem.msgid, problem.params),
                ]
            )
        after = part[-1].id


def change_batch_status(
    db: Session,
    *,
    batch: Batch,
    action: str,
    reason: str,
    actor: Actor,
    natural_keys: Sequence[Sequence[str]] | None = None,
    settings: Settings | None = None,
    catalogue: Catalogue | None = None,
) -> int:
    """Suspend, reinstate or revoke the batch's documents, all or those ``natural_keys`` name.

    Each natural key is the values of the document type's ``natural_key`` claims, in
    their order (a CSV line of them). The status lists change in one step; one audit
    event records the whole change. Returns how many documents changed.
    """
    if action not in ("suspend", "reinstate", "revoke"):
        raise NotFound()
    ids: list[str]
    if natural_keys is None:
        ids = list(
            db.scalars(
                select(BatchRow.document_id).where(
                    BatchRow.batch_id == batch.id, BatchRow.status == RowStatus.ISSUED
                )
            )
        )
    else:
        if settings is None or catalogue is None:
            raise ValueError("natural keys need the settings and the catalogue")
        document_type = catalogue.document_type(batch.document_type)
        ids = [
            document_id_for(
                settings,
                agency_id=batch.agency_id,
                document_type=batch.document_type,
                key_values=typed_key(document_type, key),
            )
            for key in natural_keys
        ]
        in_batch = set(
            db.scalars(
                select(BatchRow.document_id).where(
                    BatchRow.batch_id == batch.id,
                    BatchRow.status == RowStatus.ISSUED,
                    BatchRow.document_id.in_(ids),
                )
            )
        )
        ids = [document_id for document_id in ids if document_id in in_batch]
    changed = change_statuses_in_bulk(
        db, document_ids=ids, agency_id=batch.agency_id, action=action, reason=reason
    )
    record_event(
        db,
        actor=actor,
        action=f"batch.documents_{action}",
        object_type="batch",
        object_id=batch.id,
        after={
            "documents": changed,
            "selected": "all" if natural_keys is None else "natural_keys",
            "reason": reason.strip()[:2000],
            "merkle_root": batch.merkle_root,
        },
    )
    return changed


@dataclass(frozen=True)
class DocumentProof:
    """Where one document sits in its batch's tree, and the root the trail holds."""

    document_id: str
    batch_id: str
    proof: InclusionProof
    recorded_root: str | None


def document_proof(db: Session, *, document_id: str) -> DocumentProof:
    """The inclusion proof of a bulk-issued document under its batch's Merkle root."""
    row = db.scalar(
        select(BatchRow).where(
            BatchRow.document_id == document_id, BatchRow.status == RowStatus.ISSUED
        )
    )
    if row is None:
        raise NotFound()
    digests = batch_digests(db, batch_id=row.batch_id)
    numbers = list(
        db.scalars(
            select(BatchRow.row_number)
            .where(BatchRow.batch_id == row.batch_id, BatchRow.status == RowStatus.ISSUED)
            .order_by(BatchRow.row_number)
        )
    )
    batch = db.get(Batch, row.batch_id)
    assert batch is not None
    proof = inclusion_proof(digests, numbers.index(row.row_number))
    return DocumentProof(document_id, row.batch_id, proof, batch.merkle_root)


@dataclass(frozen=True)
class RootCheck:
    batches_checked: int
    problems: list[str]


def verify_batch_roots(db: Session) -> RootCheck:
    """Recompute every finished batch's root from its documents as stored now.

    A document edited after issue, removed, or a root edited in place shows up here; the
    root in the batch's audit event (hash-chained) is the reference.
    """
    problems: list[str] = []
    checked = 0
    finished = db.scalars(
        select(Batch).where(Batch.state.in_([BatchState.DONE, BatchState.CANCELLED]))
    ).all()
    for batch in finished:
        checked += 1
        root = merkle_root(
            hashlib.sha256(sd_jwt.encode()).hexdigest()
            for sd_jwt in db.scalars(
                select(Document.sd_jwt)
                .join(BatchRow, and_(BatchRow.document_id == Document.id))
                .where(BatchRow.batch_id == batch.id, BatchRow.status == RowStatus.ISSUED)
                .order_by(BatchRow.row_number),
                execution_options={"yield_per": _STREAM_EVERY},
            )
        )
        event = db.scalar(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "batch",
                AuditEvent.object_id == batch.id,
                AuditEvent.action.in_(["batch.finish", "batch.cancel"]),
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        recorded = (event.after or {}).get("merkle_root") if event is not None else None
        if root != recorded or root != batch.merkle_root:
            problems.append(f"batch {batch.id}: its documents do not match the recorded root")
    return RootCheck(checked, problems)
