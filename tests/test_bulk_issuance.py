"""Journey 2, bulk issuance: a register is checked, approved by a second officer and
issued by the worker exactly once; bad files get clear lines or a clear refusal."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.background_work import job_registry
from darwaza.batches import checking
from darwaza.batches import service as batches
from darwaza.batches.merkle import verify_inclusion
from darwaza.batches.models import Batch, BatchRow, RowStatus
from darwaza.batches.registers import RegisterRefused
from darwaza.batches.workflow import BatchState
from darwaza.catalogue import Catalogue, load_catalogue
from darwaza.database import transaction
from darwaza.documents.models import Document, DocumentStatus, StatusList
from darwaza.documents.service import STATUS_LIST_CAPACITY
from darwaza.errors import Conflict, IllegalTransition
from darwaza.jobs import Job, JobStatus
from darwaza.jobs.worker import run_due_jobs
from darwaza.settings import Settings
from darwaza.verification.publishing import DatabaseTrustSource
from darwaza.verification.verifier import verify_credential
from tests.bulk import HEADER, graduate, graduates_csv, register_csv
from tests.factories import create_citizen
from tests.journeys import sms_messages

UPLOADER = Actor.staff("uploader")
APPROVER = Actor.staff("approver")


@pytest.fixture
def catalogue(settings: Settings) -> Catalogue:
    return load_catalogue(settings.catalogue_dir)


def upload(
    settings: Settings,
    catalogue: Catalogue,
    content: bytes,
    *,
    name: str = "graduates.csv",
    actor: Actor = UPLOADER,
    mapping: dict[str, str] | None = None,
    checked: bool = True,
) -> str:
    """Upload a register; then, unless ``checked`` is False, let the worker check it."""
    with transaction(settings) as db:
        batch = checking.upload_register(
            db,
            settings=settings,
            catalogue=catalogue,
            agency_id="hec",
            document_type_id="hec-degree-attestation",
            source=io.BytesIO(content),
            file_name=name,
            actor=actor,
            mapping=mapping,
        )
        batch_id = batch.id
    if checked:
        run_worker(settings)  # the worker checks it, as it does for the console and the API
    return batch_id


def approve(settings: Settings, batch_id: str, actor: Actor = APPROVER) -> None:
    with transaction(settings) as db:
        batch = batches.agency_batch(db, agency_id="hec", batch_id=batch_id, lock=True)
        batches.approve_batch(db, batch=batch, actor=actor)


def run_worker(settings: Settings, db: Session | None = None) -> None:
    registry = job_registry(settings)
    while run_due_jobs(settings, registry, limit=50):
        pass
    if db is not None:
        db.rollback()


def batch_of(db: Session, batch_id: str) -> Batch:
    db.rollback()  # a new read transaction sees what the worker committed
    batch = db.get(Batch, batch_id)
    assert batch is not None
    return batch


def problems_of(db: Session, batch_id: str) -> list[tuple[int, str, str]]:
    db.rollback()
    return [
        (p.row_number, p.column, p.msgid) for p in batches.report_problems(db, batch_id=batch_id)
    ]


def test_a_register_is_checked_approved_by_another_officer_and_issued_once(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    rows = [graduate(n) for n in range(1, 6)]
    rows.append(["12345", "Bad Cnic", "BS", "CS", "PU", "2024"])  # row 7
    rows.append(graduate(1))  # row 8: the same document as row 2
    rows.append(graduate(9, name="Evil\u202eName"))  # row 9: a bidi override
    rows.append(graduate(10, name="عائشہ بی بی"))  # row 10: Urdu is fine
    batch_id = upload(settings, catalogue, register_csv(rows))
    batch = batch_of(db, batch_id)
    assert batch.state == BatchState.CHECKED
    assert (batch.row_count, batch.valid_count, batch.invalid_count) == (9, 6, 3)
    lines = problems_of(db, batch_id)
    assert [(row, column) for row, column, _ in lines] == [
        (7, "cnic"),
        (8, ""),
        (9, "full_name"),
    ]
    assert "same document as row 2" in lines[1][2].replace("{row}", "2")
    assert db.scalar(select(func.count()).select_from(Document)) == 0, "issued before approval"

    with pytest.raises(batches.FourEyes):
        approve(settings, batch_id, actor=UPLOADER)
    run_worker(settings, db)
    assert db.scalar(select(func.count()).select_from(Document)) == 0, "issued before approval"

    approve(settings, batch_id)
    run_worker(settings, db)
    batch = batch_of(db, batch_id)
    assert batch.state == BatchState.DONE
    assert (batch.issued_count, batch.failed_count, batch.left) == (6, 0, 0)
    documents = db.scalars(select(Document)).all()
    assert len(documents) == 6
    trust = DatabaseTrustSource(db, settings=settings, catalogue=catalogue)
    now = datetime.now(UTC)
    for document in documents:
        assert verify_credential(document.sd_jwt, trust=trust, now=now).verdict == "valid"
        assert verify_credential(document.qr_text, trust=trust, now=now).verdict == "valid"
    urdu = next(d for d in documents if d.claims["full_name"] == "عائشہ بی بی")
    assert urdu.holder_cnic == "3520200000103"

    # The Merkle root is in the audit trail; each document has its inclusion proof.
    proof = batches.document_proof(db, document_id=urdu.id)
    assert proof.recorded_root == batch.merkle_root == proof.proof.root
    assert verify_inclusion(proof.proof)
    assert batches.verify_batch_roots(db).problems == []

    # The same file again is the same batch; a longer register issues only the new rows.
    assert upload(settings, catalogue, register_csv(rows)) == batch_id
    second = upload(settings, catalogue, graduates_csv(7), name="more.csv")
    assert batch_of(db, second).already_issued_count == 5
    assert [(row, msgid) for row, _column, msgid in problems_of(db, second)] == [
        (row, checking.ALREADY_ISSUED) for row in range(2, 7)
    ]
    approve(settings, second)
    run_worker(settings, db)
    assert (batch_of(db, second).issued_count, batch_of(db, second).state) == (2, "done")
    assert db.scalar(select(func.count()).select_from(Document)) == 8


def test_the_worker_checks_an_uploaded_register_and_a_cancelled_one_is_left_alone(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    waiting = upload(settings, catalogue, graduates_csv(3), name="three.csv", checked=False)
    dropped = upload(settings, catalogue, graduates_csv(4), name="four.csv", checked=False)
    assert batch_of(db, waiting).state == BatchState.UPLOADED
    assert batch_of(db, waiting).row_count == 0, "checked before the worker ran"
    with transaction(settings) as session:
        batch = batches.agency_batch(session, agency_id="hec", batch_id=dropped, lock=True)
        batches.cancel_batch(session, batch=batch, actor=UPLOADER)
    run_worker(settings, db)
    checked = batch_of(db, waiting)
    assert (checked.state, checked.row_count, checked.valid_count) == (BatchState.CHECKED, 3, 3)
    assert (batch_of(db, dropped).state, batch_of(db, dropped).row_count) == ("cancelled", 0)


def test_a_csv_that_breaks_part_way_is_a_line_of_the_report_and_keeps_no_row(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    # Good rows past the sample read at upload, then a byte that is not UTF-8.
    content = graduates_csv(2000) + b"35202" + b"\xff" * 3 + b",x,y,z,w,2024\n"
    assert len(content) > 64 * 1024
    batch_id = upload(settings, catalogue, content, name="broken.csv")
    batch = batch_of(db, batch_id)
    assert (batch.state, batch.header_ok, batch.valid_count) == (BatchState.CHECKED, False, 0)
    [(row, column, message)] = problems_of(db, batch_id)
    assert (row, column) == (0, "") and "CSV" in message
    assert db.scalar(select(func.count()).select_from(BatchRow)) == 0
    dead = db.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.DEAD))
    assert dead == 0


def test_status_slots_are_random_so_a_slot_tells_nothing_of_the_row(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    batch_id = upload(settings, catalogue, graduates_csv(200))
    approve(settings, batch_id)
    run_worker(settings, db)
    slots = db.scalars(
        select(Document.status_index)
        .join(BatchRow, BatchRow.document_id == Document.id)
        .where(BatchRow.batch_id == batch_id)
        .order_by(BatchRow.row_number)
    ).all()
    assert len(slots) == len(set(slots)) == 200
    # Neither in row order nor packed together: spread over the whole list.
    assert slots != sorted(slots) and slots != sorted(slots, reverse=True)
    assert max(slots) - min(slots) > STATUS_LIST_CAPACITY // 2
    # Each shard counts exactly the slots it gave out, so it fills up to its limit.
    given_out = db.execute(
        select(StatusList.allocated, func.count(Document.id))
        .join(Document, Document.status_list_id == StatusList.id)
        .group_by(StatusList.id, StatusList.allocated)
    ).all()
    assert given_out and all(allocated == count for allocated, count in given_out)


def test_holders_with_proven_accounts_are_told_and_the_others_find_it_later(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    proven = create_citizen(
        db, cnic="35202-0000002-3", full_name="Graduate 2", mobile="03001000002"
    )
    proven.identity_proven_at = datetime.now(UTC)
    create_citizen(db, cnic="35202-0000003-3", full_name="Someone Else", mobile="03001000003")
    db.commit()
    batch_id = upload(settings, catalogue, graduates_csv(4))
    approve(settings, batch_id)
    run_worker(settings, db)
    assert batch_of(db, batch_id).state == BatchState.DONE

    texts = sms_messages(settings)
    told = [m["text"] for m in texts if m["to"] == "+923001000002"]
    assert len(told) == 1 and "Degree Attestation" in told[0] and "/wallet/" in told[0], told
    assert "Higher Education Commission" in told[0]
    # An account that has not proven its CNIC holds nothing issued to it, and is not told.
    assert [m for m in texts if m["to"] == "+923001000003"] == []


def test_pause_resume_and_cancel_follow_the_state_machine(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    batch_id = upload(settings, catalogue, graduates_csv(1200))
    approve(settings, batch_id)
    with transaction(settings) as session:
        batch = batches.agency_batch(session, agency_id="hec", batch_id=batch_id, lock=True)
        batches.pause_batch(session, batch=batch, actor=APPROVER)
    run_worker(settings, db)
    assert db.scalar(select(func.count()).select_from(Document)) == 0
    with transaction(settings) as session:
        batch = batches.agency_batch(session, agency_id="hec", batch_id=batch_id, lock=True)
        batches.resume_batch(session, batch=batch, actor=APPROVER)
    run_worker(settings, db)
    assert batch_of(db, batch_id).state == BatchState.DONE
    assert db.scalar(select(func.count()).select_from(Document)) == 1200
    with transaction(settings) as session, pytest.raises(IllegalTransition):
        batch = batches.agency_batch(session, agency_id="hec", batch_id=batch_id, lock=True)
        batches.cancel_batch(session, batch=batch, actor=APPROVER)

    other = upload(settings, catalogue, graduates_csv(3, start=5000))
    with transaction(settings) as session:
        batch = batches.agency_batch(session, agency_id="hec", batch_id=other, lock=True)
        batches.cancel_batch(session, batch=batch, actor=UPLOADER)
    with pytest.raises(IllegalTransition):
        approve(settings, other)


def test_a_batch_is_revoked_whole_or_by_a_file_of_natural_keys(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    batch_id = upload(settings, catalogue, graduates_csv(4))
    approve(settings, batch_id)
    run_worker(settings, db)
    with transaction(settings) as session:
        batch = batches.agency_batch(session, agency_id="hec", batch_id=batch_id)
        changed = batches.change_batch_status(
            session,
            batch=batch,
            action="suspend",
            reason="Convocation list under review",
            actor=APPROVER,
            natural_keys=[
                ["35202-0000001-3", "University of the Punjab", "BS Computer Science", "2024"]
            ],
            settings=settings,
            catalogue=catalogue,
        )
    assert changed == 1
    with transaction(settings) as session:
        batch = batches.agency_batch(session, agency_id="hec", batch_id=batch_id)
        assert (
            batches.change_batch_status(
                session, batch=batch, action="revoke", reason="Fraudulent register", actor=APPROVER
            )
            == 4
        )
    db.expire_all()
    assert set(db.scalars(select(Document.status))) == {DocumentStatus.REVOKED}
    document = db.scalars(select(Document)).first()
    assert document is not None
    trust = DatabaseTrustSource(db, settings=settings, catalogue=catalogue)
    verdict = verify_credential(document.qr_text, trust=trust, now=datetime.now(UTC)).verdict
    assert verdict == "revoked"


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_register_reads_formulas_as_text_never_evaluated(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    rows: list[list[object]] = [list(HEADER)]
    rows.append([*graduate(1)[:5], 2024])
    rows.append([graduate(2)[0], '=HYPERLINK("http://evil.example","Click")', *graduate(2)[2:]])
    batch_id = upload(settings, catalogue, _xlsx(rows), name="graduates.xlsx")
    batch = batch_of(db, batch_id)
    assert (batch.file_format, batch.valid_count, batch.invalid_count) == ("xlsx", 1, 1)
    assert problems_of(db, batch_id)[0][:2] == (3, "full_name")
    report = "".join(batches.report_csv(db, batch_id=batch_id))
    assert "formula" in report


def test_a_report_csv_cannot_inject_formulas(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    batch_id = upload(
        settings,
        catalogue,
        register_csv([graduate(1)], header=[*HEADER, "=cmd|' /C calc'!A0"]),
    )
    report = "".join(batches.report_csv(db, batch_id=batch_id))
    assert "'=cmd" in report
    assert "\n=cmd" not in report and ",=cmd" not in report


def test_bad_files_are_refused_clearly(settings: Settings, catalogue: Catalogue) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    with pytest.raises(RegisterRefused):
        upload(settings, catalogue, png, name="photo.csv")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/sharedStrings.xml", b"\x00" * (60 * 1024 * 1024))
    with pytest.raises(RegisterRefused, match="inflates"):
        upload(settings, catalogue, bomb.getvalue(), name="bomb.xlsx")
    with pytest.raises(checking.RegisterTooLarge), transaction(settings) as db:
        checking.upload_register(
            db,
            settings=settings,
            catalogue=catalogue,
            agency_id="hec",
            document_type_id="hec-degree-attestation",
            source=io.BytesIO(graduates_csv(100)),
            file_name="big.csv",
            actor=UPLOADER,
            limit=1000,
        )


def test_header_and_row_problems_are_lines_of_the_report(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    missing = upload(settings, catalogue, register_csv([graduate(1)[:5]], header=HEADER[:5]))
    assert batch_of(db, missing).header_ok is False
    assert problems_of(db, missing) == [
        (0, "year_of_completion", "The column {column} is missing: this document type needs it.")
    ]
    with pytest.raises(Conflict):
        approve(settings, missing)

    wide = graduate(1) + ["x"] * 10_000
    twins = [graduate(2, name="Ali Khan"), [*graduate(2, name="Ahmed Raza")[:5], "2020"]]
    batch_id = upload(settings, catalogue, register_csv([wide, *twins]))
    lines = problems_of(db, batch_id)
    assert lines[0][:2] == (2, "")
    assert "more cells" in lines[0][2]
    assert lines[1][:2] == (4, "full_name") and "another name" in lines[1][2]

    renamed = upload(
        settings,
        catalogue,
        register_csv([graduate(3)], header=["CNIC", "Name", *HEADER[2:]]),
        mapping={"Name": "full_name"},
    )
    assert batch_of(db, renamed).valid_count == 1


def test_the_check_never_issues_and_rows_are_kept_per_row(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    batch_id = upload(settings, catalogue, graduates_csv(3))
    statuses = db.scalars(select(BatchRow.status).where(BatchRow.batch_id == batch_id)).all()
    assert statuses == [RowStatus.PENDING] * 3
    preview = batches.preview_rows(db, batch_id=batch_id)
    assert [row.claims["full_name"] for row in preview] == [f"Graduate {n}" for n in (1, 2, 3)]
    record_event(db, actor=UPLOADER, action="test.noop", object_type="none", object_id=None)


def test_a_row_refused_at_signing_time_lands_in_the_report_and_the_rest_finish(
    db: Session, settings: Settings, catalogue: Catalogue
) -> None:
    batch_id = upload(settings, catalogue, graduates_csv(3))
    with transaction(settings) as session:
        row = session.scalar(
            select(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.row_number == 3)
        )
        assert row is not None
        row.holder_cnic = "0000000000000"  # as if NADRA's records changed since the check
    approve(settings, batch_id)
    run_worker(settings, db)
    batch = batch_of(db, batch_id)
    assert (batch.state, batch.issued_count, batch.failed_count, batch.left) == ("done", 2, 1, 0)
    assert problems_of(db, batch_id)[-1][:2] == (3, "cnic")


def test_every_move_the_batch_workflow_does_not_allow_is_refused() -> None:
    from darwaza.batches.workflow import TRANSITIONS, BatchAction, next_state

    allowed = {(t.action, t.source) for t in TRANSITIONS}
    for state in BatchState:
        for action in BatchAction:
            if (action, state) in allowed:
                assert next_state(state, action) in BatchState
            else:
                with pytest.raises(IllegalTransition):
                    next_state(state, action)
    assert all(
        next_state(s, BatchAction.CANCEL) == "cancelled" for s in BatchState if not s.finished
    )


def test_the_fast_base45_encoder_matches_the_reference_package() -> None:
    import random

    import base45

    from darwaza.documents.formats.compact_qr import b45encode

    generator = random.Random(11)
    for size in range(0, 600, 7):
        data = bytes(generator.randrange(256) for _ in range(size))
        assert b45encode(data) == base45.b45encode(data).decode()


def test_a_natural_key_must_name_claims_of_its_type(catalogue: Catalogue) -> None:
    from pydantic import ValidationError

    from darwaza.catalogue import DocumentTypeDefinition

    definition = catalogue.document_type("hec-degree-attestation").model_dump()
    assert definition["natural_key"] == ["cnic", "university", "degree_title", "year_of_completion"]
    definition["natural_key"] = ["cnic", "roll_number"]
    with pytest.raises(ValidationError, match="roll_number"):
        DocumentTypeDefinition.model_validate(definition, strict=False)
