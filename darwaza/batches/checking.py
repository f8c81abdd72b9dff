"""Receiving a register and checking every row of it, before anyone may approve it.

The file is kept in the file store under its SHA-256; a worker checks it
(`CHECK_REGISTER_JOB`), so a register of a million rows never holds a request open. Rows
are streamed into the table in groups; rows that repeat an earlier one are then found by
queries over the table, so no register is held in memory.
"""

from __future__ import annotations

import hashlib
import secrets
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import JSON, func, insert, literal, select, update
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.batches.models import Batch, BatchProblem, BatchRow, RowStatus
from darwaza.batches.natural_keys import document_id_for, key_plan, key_values
from darwaza.batches.registers import (
    Problem,
    RegisterRefused,
    check_row,
    detect_format,
    read_header,
    read_rows,
)
from darwaza.batches.service import CHUNK_SIZE, actor_key, move_batch
from darwaza.batches.workflow import BatchAction, BatchState
from darwaza.catalogue import Catalogue, DocumentTypeDefinition
from darwaza.crypto.jws import compact_json
from darwaza.database import table_of
from darwaza.documents.models import Document
from darwaza.errors import InvalidInput, NotFound
from darwaza.i18n import N_
from darwaza.jobs import Priority, enqueue
from darwaza.settings import Settings
from darwaza.storage import file_store_for

CHECK_REGISTER_JOB: Final = "batches.check_register"
MAX_REGISTER_BYTES: Final = 512 * 1024 * 1024
_INSERT_EVERY: Final = 1000

ALREADY_ISSUED = N_("Already issued from an earlier register: this row will be skipped.")
SAME_AS_ROW = N_("The same document as row {row}: only the first is issued.")
OTHER_NAME = N_("This CNIC has another name in row {row}.")


class RegisterTooLarge(InvalidInput):
    status_code = 413
    code = "register_too_large"
    default_message = N_("This register is too large: split it into files of at most 512 MB.")


def registers_dir(settings: Settings) -> Path:
    """Where this process spools an upload and a check reads its copy of a register (the
    registers themselves are in the file store)."""
    return settings.data_dir / "registers"


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
        file_format = detect_format(spool)
        # Into the store before any database work: a large file is not copied while this
        # transaction (on SQLite, the write lock) is open. Named by content, so the same
        # file again lands on itself.
        file_store_for(settings).put_file(register_key(sha256), spool)
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
            file_format=file_format,
            mapping=mapping,
            actor=actor,
        )
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
    move_batch(db, batch=batch, action=BatchAction.CHECK, actor=actor)


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
    plan = key_plan(document_type)
    count = valid = 0

    def flush() -> None:
        if pending_rows:
            _insert_rows(db, pending_rows)
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
            checked = check_row(number, values, columns)
            document_id = None
            if not checked.problems:
                document_id = document_id_for(
                    settings,
                    agency_id=batch.agency_id,
                    document_type=batch.document_type,
                    key_values=key_values(plan, checked),
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


_ROW_COLUMNS: Final = (
    "batch_id",
    "row_number",
    "status",
    "holder_cnic",
    "claims",
    "document_id",
)


def _insert_rows(db: Session, rows: list[dict[str, Any]]) -> None:
    """Write checked rows: PostgreSQL's COPY (a register is loaded, not inserted row by
    row; about twice as fast for the whole check), one multi-row insert elsewhere."""
    connection = db.connection()
    if connection.dialect.name != "postgresql":
        db.execute(insert(table_of(BatchRow)), rows)
        return
    names = ", ".join(_ROW_COLUMNS)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY batch_rows ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                (
                    row["batch_id"],
                    row["row_number"],
                    str(row["status"]),
                    row["holder_cnic"],
                    compact_json(row["claims"]).decode(),
                    row["document_id"],
                )
            )


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
    """Rows whose document exists (an earlier register): marked, and a report line each,
    by two statements over the table, however many there are."""
    issued_ids = select(Document.id).where(Document.agency_id == batch.agency_id)
    marked = db.execute(
        update(BatchRow)
        .where(
            BatchRow.batch_id == batch.id,
            BatchRow.status == RowStatus.PENDING,
            BatchRow.document_id.in_(issued_ids),
        )
        .values(status=RowStatus.ALREADY_ISSUED)
        .execution_options(synchronize_session=False)
    )
    count = int(marked.rowcount)  # type: ignore[attr-defined]
    if count:
        lines = select(
            BatchRow.batch_id,
            BatchRow.row_number,
            literal(""),
            literal(ALREADY_ISSUED),
            literal({}, JSON),
        ).where(BatchRow.batch_id == batch.id, BatchRow.status == RowStatus.ALREADY_ISSUED)
        db.execute(
            insert(BatchProblem).from_select(
                ["batch_id", "row_number", "column", "msgid", "params"], lines
            )
        )
    batch.already_issued_count = count
