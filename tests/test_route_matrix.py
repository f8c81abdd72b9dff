"""Every route that takes an id, tried with ids of someone else's objects.

Another citizen, an officer of another agency, and an anonymous caller each try every
such route against one citizen's application, attachment, document, share, session and
API token. None of them may succeed, and the owner's objects stay as they were.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.applications import api as applications_api
from darwaza.applications import console as applications_console
from darwaza.applications import views as applications_views
from darwaza.applications.models import Application, Attachment
from darwaza.audit.actors import Actor
from darwaza.batches import api as batches_api
from darwaza.batches import console as batches_console
from darwaza.batches.checking import upload_register
from darwaza.batches.models import Batch
from darwaza.catalogue import load_catalogue
from darwaza.documents import api as documents_api
from darwaza.documents import console as documents_console
from darwaza.documents.models import Document
from darwaza.identity import account, admin, inbox, passkey_routes
from darwaza.identity.models import ApiToken, StaffMember, UserSession
from darwaza.identity.tokens import create_api_token
from darwaza.notifications.models import Channel, Notification
from darwaza.payments import api as payments_api
from darwaza.payments import views as payments_views
from darwaza.payments.models import Payment
from darwaza.settings import Settings
from darwaza.wallet import api as wallet_api
from darwaza.wallet import views as wallet_views
from darwaza.wallet.models import Share
from tests.bulk import graduates_csv
from tests.journeys import (
    ClientFactory,
    approved_degree,
    create_officer,
    csrf_of,
    sign_in_officer,
    sign_up,
)

# Routes whose ids are public by design: the catalogue, issuers' keys, status lists and
# share links (whose id is the secret itself).
PUBLIC = {
    "/services/{service_id}",
    "/services/{service_id}/apply",
    "/api/v1/services/{service_id}",
    "/account/email/{token}",  # the token in the e-mailed link is the secret
}

ROUTES: list[tuple[str, str]] = [
    ("GET", "/applications/{application_id}"),
    ("POST", "/applications/{application_id}"),
    ("POST", "/applications/{application_id}/respond"),
    ("POST", "/applications/{application_id}/withdraw"),
    ("GET", "/applications/{application_id}/attachments/{attachment_id}"),
    ("GET", "/api/v1/applications/{application_id}"),
    ("PATCH", "/api/v1/applications/{application_id}"),
    ("POST", "/api/v1/applications/{application_id}/attachments"),
    ("GET", "/api/v1/applications/{application_id}/attachments/{attachment_id}"),
    ("DELETE", "/api/v1/applications/{application_id}/attachments/{attachment_id}"),
    ("POST", "/api/v1/applications/{application_id}/submit"),
    ("POST", "/api/v1/applications/{application_id}/withdraw"),
    ("POST", "/api/v1/applications/{application_id}/respond"),
    ("GET", "/console/applications/{application_id}"),
    ("GET", "/console/applications/{application_id}/attachments/{attachment_id}"),
    ("POST", "/console/applications/{application_id}/refund"),
    ("POST", "/console/applications/{application_id}/{action}"),
    ("GET", "/api/v1/console/applications/{application_id}"),
    ("GET", "/api/v1/console/applications/{application_id}/attachments/{attachment_id}"),
    ("POST", "/api/v1/console/applications/{application_id}/claim"),
    ("POST", "/api/v1/console/applications/{application_id}/release"),
    ("POST", "/api/v1/console/applications/{application_id}/request-info"),
    ("POST", "/api/v1/console/applications/{application_id}/approve"),
    ("POST", "/api/v1/console/applications/{application_id}/reject"),
    ("GET", "/console/documents/{document_id}"),
    ("POST", "/console/documents/{document_id}/{action}"),
    ("GET", "/api/v1/documents/{document_id}"),
    ("POST", "/api/v1/documents/{document_id}/{action}"),
    ("GET", "/wallet/{document_id}"),
    ("GET", "/wallet/{document_id}/document.sd-jwt"),
    ("GET", "/wallet/{document_id}/qr.png"),
    ("GET", "/wallet/{document_id}/document.pdf"),
    ("POST", "/wallet/{document_id}/shares"),
    ("POST", "/wallet/shares/{share_id}/end"),
    ("GET", "/api/v1/wallet/documents/{document_id}"),
    ("GET", "/api/v1/wallet/documents/{document_id}/shares"),
    ("POST", "/api/v1/wallet/documents/{document_id}/shares"),
    ("POST", "/api/v1/wallet/shares/{share_id}/end"),
    ("POST", "/account/sessions/{session_id}/end"),
    ("POST", "/admin/staff/{staff_id}/{action}"),
    ("POST", "/admin/tokens/{token_id}/revoke"),
    ("POST", "/notifications/{notification_id}/read"),
    ("POST", "/api/v1/notifications/{notification_id}/read"),
    ("GET", "/console/batches/{batch_id}"),
    ("GET", "/console/batches/{batch_id}/progress"),
    ("GET", "/console/batches/{batch_id}/report.csv"),
    ("POST", "/console/batches/{batch_id}/{action}"),
    ("POST", "/console/batches/{batch_id}/documents/{action}"),
    ("GET", "/api/v1/batches/{batch_id}"),
    ("GET", "/api/v1/batches/{batch_id}/report.csv"),
    ("POST", "/api/v1/batches/{batch_id}/{action}"),
    ("GET", "/payments/{payment_id}"),
    ("GET", "/payments/{payment_id}/challan.pdf"),
    ("POST", "/applications/{application_id}/challan"),
    ("POST", "/payments/{payment_id}/online"),
    ("GET", "/payments/{payment_id}/return"),
]

ROUTERS = [
    batches_api.router,
    batches_console.router,
    applications_api.router,
    applications_views.router,
    applications_console.router,
    documents_api.router,
    documents_console.router,
    wallet_api.router,
    wallet_views.router,
    account.router,
    admin.router,
    passkey_routes.router,
    inbox.pages,
    inbox.api,
    payments_views.router,
    payments_api.router,
]


def test_the_table_names_every_route_that_takes_an_id() -> None:
    with_ids = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", set())
        if "{" in route.path and route.path not in PUBLIC
    }
    assert with_ids == set(ROUTES)


def test_nobody_else_reaches_a_citizens_objects(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    owner, _hec_officer, document = approved_degree(
        make_client, settings, db, "35202-1357924-6", "0340 1357924"
    )
    db.commit()
    application = db.get(Application, document.application_id)
    assert application is not None
    attachment = db.scalar(select(Attachment).where(Attachment.application_id == application.id))
    assert attachment is not None
    page = owner.get(f"/wallet/{document.id}")
    owner.post(
        f"/wallet/{document.id}/shares",
        data={"claims": ["full_name"], "lifetime": "1d", "csrf_token": csrf_of(page)},
    )
    db.commit()
    share = db.scalar(select(Share).where(Share.document_id == document.id))
    session = db.scalar(select(UserSession).where(UserSession.citizen_id == application.citizen_id))
    assert share is not None and session is not None
    hec_staff_id = db.scalar(select(StaffMember.id).where(StaffMember.agency_id == "hec"))
    api_token = create_api_token(
        db,
        agency_id="hec",
        name="Registry",
        scopes=["documents:issue"],
        lifetime=timedelta(days=1),
        actor=Actor.operator(),
    )
    message = db.scalar(
        select(Notification).where(
            Notification.recipient_id == application.citizen_id,
            Notification.channel == Channel.INBOX,
        )
    )
    assert message is not None and message.read_at is None
    batch = upload_register(
        db,
        settings=settings,
        catalogue=load_catalogue(settings.catalogue_dir),
        agency_id="hec",
        document_type_id="hec-degree-attestation",
        source=io.BytesIO(graduates_csv(2)),
        file_name="graduates.csv",
        actor=Actor.staff(hec_staff_id or ""),
        check_now=True,
    )
    payment_id = db.scalar(select(Payment.id).where(Payment.application_id == application.id))
    assert payment_id is not None
    db.commit()  # end this snapshot before anyone else writes
    ids = {
        "notification_id": message.id,
        "application_id": application.id,
        "attachment_id": attachment.id,
        "document_id": document.id,
        "share_id": share.id,
        "session_id": session.id,
        "staff_id": hec_staff_id,
        "token_id": api_token.record.id,
        "batch_id": batch.id,
        "payment_id": payment_id,
        "action": "approve",
    }

    other_citizen = make_client()
    sign_up(
        other_citizen,
        settings,
        cnic="35202-2468135-7",
        full_name="Other Citizen",
        mobile="0341 2468135",
    )
    nadra_officer = make_client()
    sign_in_officer(
        nadra_officer,
        settings,
        create_officer(db, username="matrix.nadra", agency_id="nadra", mobile="03001112222"),
        "officer-pass-123",
    )
    anonymous = make_client()
    anonymous.get("/")

    for who, client in (
        ("other citizen", other_citizen),
        ("nadra officer", nadra_officer),
        ("anonymous", anonymous),
    ):
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get("/").text)
        assert token
        for method, template in ROUTES:
            path = template.format(**ids)
            if path.startswith("/api/"):
                response = client.request(
                    method, path, json={}, headers={"X-CSRF-Token": token.group(1)}
                )
            else:
                response = client.request(
                    method, path, data={"csrf_token": token.group(1)}, follow_redirects=False
                )
            assert response.status_code in (303, 401, 403, 404, 422), (
                who,
                method,
                path,
                response.status_code,
            )
            if response.status_code == 422:  # a body check ran first: the id still stays unseen
                assert application.id not in response.text

    db.expire_all()
    assert db.get(Application, application.id).state == "approved"  # type: ignore[union-attr]
    assert db.get(Document, document.id).status == "valid"  # type: ignore[union-attr]
    still = db.get(Share, share.id)
    assert still is not None and still.ended_at is None
    live = db.get(UserSession, session.token_hash)
    assert live is not None and live.revoked_at is None
    kept = db.get(ApiToken, api_token.record.id)
    assert kept is not None and kept.revoked_at is None
    unread = db.get(Notification, message.id)
    assert unread is not None and unread.read_at is None
    assert owner.get(f"/wallet/{document.id}").status_code == 200
    assert db.get(Batch, batch.id).state == "checked"  # type: ignore[union-attr]
    paid = db.get(Payment, payment_id)
    assert paid is not None and paid.state == "paid"
    assert owner.get(f"/payments/{payment_id}").status_code == 200
