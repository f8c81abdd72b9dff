"""Each role reaches exactly what it may: someone else's object answers 404 like a missing one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from darwaza.settings import Settings
from tests.journeys import (
    ClientFactory,
    create_officer,
    fill_and_submit,
    post_form,
    sign_in_officer,
    sign_up,
    staff_browser,
    start_degree_application,
)


def test_every_role_reaches_exactly_what_it_may(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    owner = make_client()
    sign_up(
        owner, settings, cnic="35202-4242424-2", full_name="Matrix Owner", mobile="0335 4242424"
    )
    application_id = start_degree_application(owner)
    fill_and_submit(owner, application_id, settings=settings)
    other_citizen = make_client()
    sign_up(
        other_citizen,
        settings,
        cnic="35202-4343434-3",
        full_name="Matrix Other",
        mobile="0336 4343434",
    )
    hec_officer = make_client()
    sign_in_officer(
        hec_officer,
        settings,
        create_officer(db, username="m.hec", agency_id="hec", mobile="03001230001"),
        "officer-pass-123",
    )
    nadra_officer = make_client()
    sign_in_officer(
        nadra_officer,
        settings,
        create_officer(db, username="m.nadra", agency_id="nadra", mobile="03001230002"),
        "officer-pass-123",
    )
    hec_admin = staff_browser(
        make_client, settings, db, username="m.hecadmin", role="agency_admin", agency_id="hec"
    )
    auditor = staff_browser(
        make_client, settings, db, username="m.auditor", role="auditor", agency_id=None
    )
    platform = staff_browser(
        make_client, settings, db, username="m.platform", role="platform_admin", agency_id=None
    )
    anonymous = make_client()

    citizen_page = f"/applications/{application_id}"
    console_page = f"/console/applications/{application_id}"
    expectations = {
        # who: (citizen page, console page, /admin, /audit)
        "owner": (owner, 200, 303, 303, 303),
        "other citizen": (other_citizen, 404, 303, 303, 303),
        "hec officer": (hec_officer, 303, 200, 404, 404),
        "nadra officer": (nadra_officer, 303, 404, 404, 404),
        "hec admin": (hec_admin, 303, 200, 200, 404),
        "auditor": (auditor, 303, 404, 404, 200),
        "platform admin": (platform, 303, 404, 200, 200),
        "anonymous": (anonymous, 303, 303, 303, 303),
    }
    for who, (client, citizen_code, console_code, admin_code, audit_code) in expectations.items():
        seen = tuple(
            client.get(path, follow_redirects=False).status_code
            for path in (citizen_page, console_page, "/admin", "/audit")
        )
        assert seen == (citizen_code, console_code, admin_code, audit_code), who


def test_an_agency_admin_manages_only_their_agency(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    admin = staff_browser(
        make_client, settings, db, username="a.hecadmin", role="agency_admin", agency_id="hec"
    )
    nadra_officer = create_officer(db, username="a.nadra", agency_id="nadra", mobile="03001230003")
    page = admin.get("/admin").text
    assert "a.nadra" not in page
    refused = post_form(admin, f"/admin/staff/{nadra_officer.id}/disable", {}, page="/admin")
    assert refused.status_code == 404
    created = post_form(
        admin,
        "/admin/staff",
        {
            "username": "a.newofficer",
            "full_name": "New Officer",
            "mobile": "0300 1230004",
            "password": "long-enough-password",
            "role": "officer",
        },
        page="/admin",
    )
    assert created.status_code == 200 and "Account created." in created.text
    short = post_form(
        admin,
        "/admin/staff",
        {
            "username": "a.short",
            "full_name": "Short",
            "mobile": "0300 1230005",
            "password": "short",
            "role": "officer",
        },
        page="/admin",
    )
    assert short.status_code == 422 and "Use at least 12 characters." in short.text
    assert "a.newofficer" in admin.get("/admin").text
