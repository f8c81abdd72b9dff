"""Bulk issuance: upload and check a register, approve it (four eyes), pause, resume,
cancel, follow its progress, change its documents' status, prove one document's place.

Functions take keyword arguments and the actor, write their audit event in the caller's
transaction and never commit. Absent and another agency's batches both answer 404.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditEvent
from darwaza.audit.trail import record_event
from darwaza.batches.merkle import InclusionProof, inclusion_proof, merkle_root
from darwaza.batches.models import Batch, BatchProblem, BatchRow, RowStatus
from darwaza.batches.registers import (
    CheckedRow,
    Problem,
    RegisterRefused,
    check_row,
    detect_format,
    read_header,
    read_rows,
    report_csv_line,
)
from darwaza.batches.workflow import BatchAction, BatchState, next_state
from darwaza.catalogue import Catalogue, DocumentTypeDefinition
from darwaza.clock import utcnow
from darwaza.database import table_of
from darwaza.documents.models import Document
from darwaza.documents.service import change_statuses_in_bulk
from darwaza.errors import Conflict, Forbidden, InvalidInput, Message, NotFound
from darwaza.i18n import N_, translate
from darwaza.jobs import Priority, enqueue
from darwaza.numbers import InvalidCnic, parse_cnic
from darwaza.settings import Settings
from darwaza.storage import file_store_for

ISSUE_CHUNK_JOB: Final = "batches.issue_chunk"
CHECK_REGISTER_JOB: Final = "batches.check_register"
CHUNK_SIZE: Final = 500
MAX_REGISTER_BYTES: Final = 512 * 1024 * 1024
_INSERT_EVERY: Final = 1000
PREVIEW_ROWS: Final = 5

ALREADY_ISSUED = N_("Already issued from an earlier register: this row will be skipped.")
SAME_AS_ROW = N_("The same document as row {row}: only the first is issued.")
OTHER_NAME = N_("This CNIC has another name in row {row}.")


class RegisterTooLarge(InvalidInput):
    status_code = 413
    code = "register_too_large"
    default_message = N_("This register is too large: split it into files of at most 512 MB.")


class FourEyes(Forbidden):
    code = "four_eyes"
    default_message = N_("Another officer of the agency must approve a register you uploaded.")


def actor_key(actor: Actor) -> str:
    """How a batch remembers who uploaded or approved it."""
    return f"{actor.kind}:{actor.id or ''}"


def registers_dir(settings: Settings) -> Path:
    """Where registers are kept, each named by its SHA-256."""
    return settings.data_dir / "registers"


def document_id_for(
    settings: Settings, *, agency_id: str, document_type: str, key_values: Sequence[Any]
) -> str:
    """The id of the document a register row becomes, derived from its natural key.

    An HMAC under the platform's secret: the same row always gives the same id (so the
    primary key refuses a second issue), but nobody can guess ids from known facts.
    """
    message = _KEY_TEXT.encode([agency_id, document_type, list(key_values)])
    mac = _keyed_hash(settings.secret_key).copy()
    mac.update(message.encode())
    digest = mac.hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


# The ids of documents already issued depend on these bytes: json.dumps's own output.
_KEY_TEXT: Final = json.JSONEncoder(ensure_ascii=False)


@functools.lru_cache(maxsize=4)
def _keyed_hash(secret_key: str) -> hmac.HMAC:
    # The key's HMAC state, set up once and copied for each row.
    return hmac.new(secret_key.encode(), digestmod=hashlib.sha256)


_HOLDER = object()  # in a key plan: the row's holder CNIC


def _key_plan(document_type: DocumentTypeDefinition) -> list[Any]:
    """What a row's natural key is made of, in order: a claim's name or ``_HOLDER``.

    Worked out once per register, not once per row.
    """
    names = document_type.natural_key or [c.name for c in document_type.claims]
    plan: list[Any] = [] if document_type.natural_key else [_HOLDER]
    for name in names:
        claim = document_type.claim(name)
        if claim is not None and claim.source == "citizen.cnic":
            plan.append(_HOLDER)
        elif claim is None or not claim.source.startswith("issued."):
            plan.append(name)
        # an issued.* claim is generated anew at every issue: it names no row
    return plan


def _key_values(plan: Sequence[Any], row: CheckedRow) -> list[Any]:
    return [row.holder_cnic if part is _HOLDER else row.claims.get(part) for part in plan]


def _spool(settings: Settings, source: IO[bytes], limit: int) -> tuple[Path, str]:
    """The upload in a file of its own in this process's data directory, and its SHA-256.

    The caller removes it when done; the register's home is the file store.
    """
    folder = registers_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    spool = folder / f".upload-{secrets.token_hex(8)}"
    digest = hashlib.sha256()
    size = 0
    try:
        with spool.open("wb") as out:
            while chunk := source.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise RegisterTooLarge()
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise RegisterRefused(N_("This file is empty."))
    except BaseException:
        spool.unlink(missing_ok=True)
        raise
    return spool, digest.hexdigest()


def register_key(sha256: str) -> str:
    """Where a register is kept in the file store: named by its SHA-256."""
    return f"registers/{sha256}"


def upload_register(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    agency_id: str,
    document_type_id: str,
    source: IO[bytes],
    file_name: str,
    actor: Actor,
    mapping: Mapping[str, str] | None = None,
    limit: int = MAX_REGISTER_BYTES,
    check_now: bool = False,
) -> Batch:
    """Keep the file and have every row checked; nothing is issued yet.

    The check is a job for the worker (a register of a million rows takes longer than a
    request may), which moves the batch from ``uploaded`` to ``checked``; ``check_now``
    checks in this call instead (the command line). What can be told at once (too large,
    empty, not CSV or XLSX, a zip bomb) is refused here. The same file uploaded again for
    the same document type returns the batch it made, unless that batch was cancelled.
    """
    document_type = catalogue.document_types.get(document_type_id)
    if document_type is None or document_type.agency != agency_id:
        raise NotFound(N_("This agency issues no document of that type."))
    spool, sha256 = _spool(settings, source, limit)
    try:
        earlier = db.scalar(
            select(Batch).where(
                Batch.agency_id == agency_id,
                Batch.document_type == document_type_id,
                Batch.file_sha256 == sha256,
                Batch.state != BatchState.CANCELLED,
            )
        )
        if earlier is not None and dict(earlier.column_mapping) == dict(mapping or {}):
            return earlier
        batch = _new_batch(
            db,
            agency_id=agency_id,
            document_type_id=document_type_id,
            file_name=file_name,
            sha256=sha256,
            file_format=detect_format(spool),
            mapping=mapping,
            actor=actor,
        )
        file_store_for(settings).put_file(register_key(sha256), spool)
        if check_now:
            _check_and_move(
                db, settings=settings, catalogue=catalogue, batch=batch, path=spool, actor=actor
            )
        else:
            enqueue(
                db,
                kind=CHECK_REGISTER_JOB,
                payload={"batch_id": batch.id},
                priority=Priority.BULK,
                idempotency_key=f"check:{batch.id}",
            )
        return batch
    finally:
        spool.unlink(missing_ok=True)


def _new_batch(
    db: Session,
    *,
    agency_id: str,
    document_type_id: str,
    file_name: str,
    sha256: str,
    file_format: str,
    mapping: Mapping[str, str] | None,
    actor: Actor,
) -> Batch:
    batch = Batch(
        agency_id=agency_id,
        document_type=document_type_id,
        state=BatchState.UPLOADED,
        file_name=(file_name or "register")[-255:],
        file_sha256=sha256,
        file_format=file_format,
        column_mapping=dict(mapping or {}),
        uploaded_by=actor_key(actor),
        chunk_size=CHUNK_SIZE,
    )
    db.add(batch)
    db.flush()
    record_event(
        db,
        actor=actor,
        action="batch.uploaded",
        object_type="batch",
        object_id=batch.id,
        after={"document_type": document_type_id, "sha256": sha256, "format": file_format},
    )
    return batch


def check_uploaded(db: Session, *, settings: Settings, catalogue: Catalogue, batch_id: str) -> None:
    """The worker's check of an uploaded register (`CHECK_REGISTER_JOB`).

    A batch cancelled before its turn, or checked already, is left as it is.
    """
    batch = db.get(Batch, batch_id, with_for_update=True)
    if batch is None or batch.state != BatchState.UPLOADED:
        return
    folder = registers_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    local = folder / f".check-{secrets.token_hex(8)}"
    try:
        file_store_for(settings).get_file(register_key(batch.file_sha256), local)
        _check_and_move(
            db,
            settings=settings,
            catalogue=catalogue,
            batch=batch,
            path=local,
            actor=Actor.system(),
        )
    finally:
        local.unlink(missing_ok=True)


def _check_and_move(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    batch: Batch,
    path: Path,
    actor: Actor,
) -> None:
    document_type = catalogue.document_type(batch.document_type)
    try:
        with db.begin_nested():
            _check_register(
                db, settings=settings, batch=batch, document_type=document_type, path=path
            )
    except RegisterRefused as refused:
        # Found part-way (a broken row of a CSV, a sheet openpyxl cannot read): no row of
        # it is kept, and the report says why.
        db.add(
            BatchProblem(
                batch_id=batch.id,
                row_number=0,
                column="",
                msgid=refused.message.msgid,
                params=dict(refused.message.params),
            )
        )
        batch.header_ok = False
        batch.row_count = batch.valid_count = batch.invalid_count = 0
    _move(db, batch=batch, action=BatchAction.CHECK, actor=actor)


def _check_register(
    db: Session,
    *,
    settings: Settings,
    batch: Batch,
    document_type: DocumentTypeDefinition,
    path: Path,
) -> None:
    rows = read_rows(path, batch.file_format)
    columns = read_header(next(rows, None), document_type, batch.column_mapping)
    problems: list[Problem] = list(columns.problems)
    batch.header_ok = columns.usable
    pending_rows: list[dict[str, Any]] = []
    pending_problems: list[dict[str, Any]] = []
    name_claim = "full_name" if document_type.claim("full_name") else None
    key_plan = _key_plan(document_type)
    count = valid = 0

    def flush() -> None:
        if pending_rows:
            db.execute(insert(table_of(BatchRow)), pending_rows)  # Core: no ORM per row
            pending_rows.clear()
        if problems:
            pending_problems.extend(
                {
                    "batch_id": batch.id,
                    "row_number": p.row,
                    "column": p.column[:100],
                    "msgid": p.message.msgid,
                    "params": dict(p.message.params),
                }
                for p in problems
            )
            problems.clear()
        if pending_problems:
            db.execute(insert(BatchProblem), pending_problems)
            pending_problems.clear()

    if columns.usable:
        for number, values in enumerate(rows, start=2):  # row 1 is the header, as people count
            if not any(cell is not None and str(cell).strip() for cell in values):
                continue  # blank lines between blocks of a register
            count += 1
            checked = check_row(number, values, document_type, columns)
            document_id = None
            if not checked.problems:
                document_id = document_id_for(
                    settings,
                    agency_id=batch.agency_id,
                    document_type=batch.document_type,
                    key_values=_key_values(key_plan, checked),
                )
            ok = not checked.problems
            valid += ok
            problems.extend(checked.problems)
            pending_rows.append(
                {
                    "batch_id": batch.id,
                    "row_number": number,
                    "status": RowStatus.PENDING if ok else RowStatus.INVALID,
                    "holder_cnic": checked.holder_cnic if ok else None,
                    "claims": checked.claims if ok else {},
                    "document_id": document_id if ok else None,
                    "natural_key": None,
                    "document_digest": None,
                }
            )
            if len(pending_rows) >= _INSERT_EVERY:
                flush()
    else:
        for _ in rows:
            count += 1
    flush()
    valid -= _refuse_repeats(db, batch=batch, name_claim=name_claim)
    batch.row_count = count
    batch.invalid_count = count - valid
    batch.valid_count = valid
    _mark_already_issued(db, batch=batch)


class _Refusals:
    """Rows to refuse, as compact columns: a register may repeat a million rows."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.rows = array("l")
        self.first_rows = array("l")

    def add(self, row_id: int, row_number: int, first_row: int) -> None:
        self.ids.append(row_id)
        self.rows.append(row_number)
        self.first_rows.append(first_row)


def _refuse_repeats(db: Session, *, batch: Batch, name_claim: str | None) -> int:
    """Refuse the rows that repeat an earlier one; returns how many.

    The same document twice (the same natural key) keeps only the first; then a CNIC
    under another name than in its first row is refused. Found in the database once every
    row is in, so a register of millions is never held in memory.
    """
    pending = (BatchRow.batch_id == batch.id, BatchRow.status == RowStatus.PENDING)
    refused = 0
    same_document = _Refusals()
    repeated = (
        select(BatchRow.document_id)
        .where(*pending)
        .group_by(BatchRow.document_id)
        .having(func.count() > 1)
    )
    first = func.min(BatchRow.row_number).over(partition_by=BatchRow.document_id)
    candidates = (
        select(BatchRow.id, BatchRow.row_number, first.label("first_row"))
        .where(*pending, BatchRow.document_id.in_(repeated))
        .subquery()
    )
    for row in db.execute(
        select(candidates).where(candidates.c.row_number > candidates.c.first_row),
        execution_options={"yield_per": _INSERT_EVERY},
    ):
        same_document.add(row.id, row.row_number, row.first_row)
    refused += _refuse(db, batch=batch, refusals=same_document, column="", msgid=SAME_AS_ROW)
    if name_claim is None:
        return refused
    other_name = _Refusals()
    shared = (
        select(BatchRow.holder_cnic)
        .where(*pending)
        .group_by(BatchRow.holder_cnic)
        .having(func.count() > 1)
    )
    name = BatchRow.claims[name_claim].as_string()
    candidates = (
        select(
            BatchRow.id,
            BatchRow.row_number,
            name.label("name"),
            func.first_value(BatchRow.row_number)
            .over(partition_by=BatchRow.holder_cnic, order_by=BatchRow.row_number)
            .label("first_row"),
            func.first_value(name)
            .over(partition_by=BatchRow.holder_cnic, order_by=BatchRow.row_number)
            .label("first_name"),
        )
        .where(*pending, BatchRow.holder_cnic.in_(shared))
        .subquery()
    )
    for row in db.execute(
        select(candidates).where(candidates.c.row_number > candidates.c.first_row),
        execution_options={"yield_per": _INSERT_EVERY},
    ):
        if str(row.name or "").casefold() != str(row.first_name or "").casefold():
            other_name.add(row.id, row.row_number, row.first_row)
    return refused + _refuse(
        db, batch=batch, refusals=other_name, column=name_claim, msgid=OTHER_NAME
    )


def _refuse(db: Session, *, batch: Batch, refusals: _Refusals, column: str, msgid: str) -> int:
    """Mark rows invalid (keeping none of their data) and add their lines to the report."""
    for start in range(0, len(refusals.ids), _INSERT_EVERY):
        end = start + _INSERT_EVERY
        db.execute(
            update(BatchRow)
            .where(BatchRow.id.in_(list(refusals.ids[start:end])))
            .values(status=RowStatus.INVALID, holder_cnic=None, claims={}, document_id=None)
            .execution_options(synchronize_session=False)
        )
        db.execute(
            insert(BatchProblem),
            [
                {
                    "batch_id": batch.id,
                    "row_number": row_number,
                    "column": column,
                    "msgid": msgid,
                    "params": {"row": first_row},
                }
                for row_number, first_row in zip(
                    refusals.rows[start:end], refusals.first_rows[start:end], strict=True
                )
            ],
        )
    return len(refusals.ids)


def _mark_already_issued(db: Session, *, batch: Batch) -> None:
    issued_ids = select(Document.id).where(Document.agency_id == batch.agency_id)
    already = db.execute(
        select(BatchRow.row_number).where(
            BatchRow.batch_id == batch.id,
            BatchRow.status == RowStatus.PENDING,
            BatchRow.document_id.in_(issued_ids),
        )
    ).scalars()
    numbers = list(already)
    if not numbers:
        return
    for start in range(0, len(numbers), _INSERT_EVERY):
        part = numbers[start : start + _INSERT_EVERY]
        db.execute(
            update(BatchRow)
            .where(BatchRow.batch_id == batch.id, BatchRow.row_number.in_(part))
            .values(status=RowStatus.ALREADY_ISSUED)
            .execution_options(synchronize_session=False)
        )
        db.execute(
            insert(BatchProblem),
            [
                {
                    "batch_id": batch.id,
                    "row_number": n,
                    "column": "",
                    "msgid": ALREADY_ISSUED,
                    "params": {},
                }
                for n in part
            ],
        )
    batch.already_issued_count = len(numbers)


def _move(
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
            execution_options={"yield_per": _INSERT_EVERY},
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
    _move(db, batch=batch, action=BatchAction.APPROVE, actor=actor)
    batch.approved_by = actor_key(actor)
    batch.approved_at = utcnow()
    _start_run(db, batch=batch, action=BatchAction.START, actor=Actor.system())
    return batch


def _start_run(db: Session, *, batch: Batch, action: BatchAction, actor: Actor) -> None:
    _move(db, batch=batch, action=action, actor=actor)
    batch.runs += 1
    if batch.issuing_started_at is None:
        batch.issuing_started_at = utcnow()
    last = db.scalar(select(func.max(BatchRow.row_number)).where(BatchRow.batch_id == batch.id))
    for first in range(2, (last or 1) + 1, batch.chunk_size):
        enqueue(
            db,
            kind=ISSUE_CHUNK_JOB,
            payload={
                "batch_id": batch.id,
                "first_row": first,
                "last_row": first + batch.chunk_size - 1,
            },
            idempotency_key=f"batch:{batch.id}:run:{batch.runs}:rows:{first}",
            priority=Priority.BULK,
        )


def pause_batch(db: Session, *, batch: Batch, actor: Actor) -> Batch:
    """Stop issuing after the chunks in hand; resume carries on where it stopped."""
    _move(db, batch=batch, action=BatchAction.PAUSE, actor=actor)
    return batch


def resume_batch(db: Session, *, batch: Batch, actor: Actor) -> Batch:
    """Issue the rows still pending."""
    _start_run(db, batch=batch, action=BatchAction.RESUME, actor=actor)
    return batch


def cancel_batch(db: Session, *, batch: Batch, actor: Actor) -> Batch:
    """Issue nothing more from this batch; what was issued stays issued."""
    _move(db, batch=batch, action=BatchAction.CANCEL, actor=actor)
    batch.finished_at = utcnow()
    return batch


def finish_if_complete(db: Session, *, batch: Batch) -> None:
    """Called by the worker after a chunk (batch row locked): the last chunk finishes it."""
    if batch.state == BatchState.ISSUING and batch.left == 0:
        _move(db, batch=batch, action=BatchAction.FINISH, actor=Actor.system())
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
                key_values=_typed_key(document_type, key),
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


def _typed_key(document_type: DocumentTypeDefinition, values: Sequence[str]) -> list[Any]:
    names = document_type.natural_key or []
    if len(values) != len(names):
        raise InvalidInput(
            fields={
                "keys": Message(N_("Each line must give {names}."), {"names": ", ".join(names)})
            }
        )
    typed: list[Any] = []
    for name, value in zip(names, values, strict=True):
        claim = document_type.claim(name)
        text = value.strip()
        if claim is not None and claim.source == "citizen.cnic":
            try:
                typed.append(parse_cnic(text))
            except InvalidCnic:
                typed.append(text)
        elif claim is not None and claim.type == "number":
            try:
                number = float(text)
                typed.append(int(number) if number.is_integer() else number)
            except ValueError:
                typed.append(text)
        else:
            typed.append(text)
    return typed


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
                execution_options={"yield_per": _INSERT_EVERY},
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
