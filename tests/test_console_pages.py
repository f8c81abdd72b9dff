"""Long lists in the console a page at a time: the officer queue and the issued documents.

Pages are read by keyset (the rows after the last one shown), so walking every page shows
each row once, in order, even while new work arrives; the documents search keeps the
CNIC out of the address.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from darwaza.applications.models import Application
from darwaza.applications.workflow import ApplicationState
from darwaza.clock import utcnow
from darwaza.i18n import translate
from darwaza.identity.models import Citizen
from darwaza.settings import Settings
from tests.factories import create_citizen, create_document, create_staff
from tests.journeys import STAFF_PASSWORD, ClientFactory, csrf_of, sign_in_officer
from tests.test_api import api_officer
from tests.test_bad_input import switch_to_urdu

TRACKING_LINK = re.compile(r'href="/console/applications/[^"]+">([^<]+)</a>')
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')
IDENTITY_CLAIMS = {
    "full_name": "Zara Ali",
    "father_name": "Ali Raza",
    "gender": "Female",
    "date_of_birth": "1990-01-01",
}
DOCUMENT_LINK = re.compile(r'href="/console/documents/([^"]+)"')


def _submitted(db: Session, citizen: Citizen, count: int, *, first: int = 0) -> list[str]:
    """``count`` submitted HEC applications; their tracking numbers, due soonest first.

    Every three share a due date and every six a submission time, so the order must fall
    back on the id to be total.
    """
    start = utcnow().replace(microsecond=0)
    rows = [
        Application(
            citizen_id=citizen.id,
            service_id="hec-degree-attestation",
            agency_id="hec",
            state=ApplicationState.SUBMITTED,
            answers={},
            tracking_number=f"DZ-T{first + index:05d}",
            submitted_at=start - timedelta(minutes=(first + index) // 6),
            due_at=start + timedelta(days=(first + index) // 3),
        )
        for index in range(count)
    ]
    db.add_all(rows)
    db.commit()
    ordered = sorted(rows, key=lambda a: (a.due_at, a.submitted_at, a.id))
    return [a.tracking_number or "" for a in ordered]


def _officer(
    make_client: ClientFactory, settings: Settings, db: Session, agency: str
) -> TestClient:
    """A signed-in officer's browser at ``agency``."""
    officer = create_staff(db, settings, username=f"{agency}.pager", agency_id=agency)
    browser = make_client()
    sign_in_officer(browser, settings, officer, STAFF_PASSWORD)
    return browser


def _walk(browser: TestClient, path: str) -> tuple[list[list[str]], list[str]]:
    pages: list[list[str]] = []
    texts: list[str] = []
    while path:
        page = browser.get(path)
        assert page.status_code == 200, page.text
        texts.append(page.text)
        pages.append(TRACKING_LINK.findall(page.text))
        following = NEXT_LINK.search(page.text)
        path = following.group(1).replace("&amp;", "&") if following else ""
    return pages, texts


def test_an_officer_walks_a_long_queue_a_page_at_a_time_seeing_each_application_once(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    expected = _submitted(db, create_citizen(db), 120)
    browser = _officer(make_client, settings, db, "hec")

    pages, texts = _walk(browser, "/console")

    assert [len(page) for page in pages] == [50, 50, 20]
    assert [number for page in pages for number in page] == expected
    assert "First page" not in texts[0]
    assert "First page" in texts[1] and "First page" in texts[2]


def test_work_arriving_while_an_officer_pages_does_not_repeat_or_skip_a_row(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = create_citizen(db)
    expected = _submitted(db, citizen, 60)
    browser = _officer(make_client, settings, db, "hec")
    first = browser.get("/console")
    assert TRACKING_LINK.findall(first.text) == expected[:50]

    # An urgent case arrives, due before everything on the first page. Counting rows
    # (OFFSET 50) would now show the first page's last row again; the keyset does not.
    urgent = Application(
        citizen_id=citizen.id,
        service_id="hec-degree-attestation",
        agency_id="hec",
        state=ApplicationState.SUBMITTED,
        answers={},
        tracking_number="DZ-URGENT",
        submitted_at=utcnow(),
        due_at=utcnow() - timedelta(days=30),
    )
    db.add(urgent)
    db.commit()
    following = NEXT_LINK.search(first.text)
    assert following is not None
    second = browser.get(following.group(1).replace("&amp;", "&"))

    assert TRACKING_LINK.findall(second.text) == expected[50:]
    assert NEXT_LINK.search(second.text) is None
    assert TRACKING_LINK.findall(browser.get("/console").text)[0] == "DZ-URGENT"


def test_a_broken_page_link_starts_the_queue_again(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    expected = _submitted(db, create_citizen(db), 55)
    browser = _officer(make_client, settings, db, "hec")

    for token in ("not-a-token", "W10", "WyJ4IiwgInkiLCAieiJd", "%00" * 3, "A" * 500):
        page = browser.get("/console", params={"after": token})
        assert page.status_code == 200
        assert TRACKING_LINK.findall(page.text) == expected[:50]


def test_the_queue_api_names_the_next_page_in_a_link_header(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    expected = _submitted(db, create_citizen(db), 45)
    client = make_client()
    officer = api_officer(client, settings, db, "hec.api.pager", "hec", "03009990012")

    seen: list[str] = []
    path = "/api/v1/console/applications?limit=20"
    pages = 0
    while path:
        answer = client.get(path, headers=officer)
        assert answer.status_code == 200, answer.text
        seen += [summary["tracking_number"] for summary in answer.json()]
        link = answer.headers.get("link", "")
        path = link[1 : link.index(">")] if link else ""
        assert not link or link.endswith('rel="next"')
        pages += 1

    assert pages == 3
    assert seen == expected
    assert client.get("/api/v1/console/applications?limit=0", headers=officer).status_code == 422


def test_issued_documents_page_newest_first_and_the_cnic_search_is_not_in_the_address(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    issued = [
        create_document(db, settings, holder_cnic=f"35202{index:07d}1", claims=IDENTITY_CLAIMS).id
        for index in range(53)
    ]
    browser = _officer(make_client, settings, db, "nadra")

    first = browser.get("/console/documents")
    following = NEXT_LINK.search(first.text)
    assert following is not None
    second = browser.get(following.group(1).replace("&amp;", "&"))
    shown = DOCUMENT_LINK.findall(first.text) + DOCUMENT_LINK.findall(second.text)
    assert len(DOCUMENT_LINK.findall(first.text)) == 50
    assert sorted(shown) == sorted(issued) and len(set(shown)) == 53
    assert NEXT_LINK.search(second.text) is None

    wanted = issued[7]
    found = browser.post(
        "/console/documents", data={"cnic": "35202-0000007-1", "csrf_token": csrf_of(first)}
    )
    assert found.status_code == 200
    assert DOCUMENT_LINK.findall(found.text) == [wanted]
    assert "0000007" not in str(found.url)

    wrong = browser.post("/console/documents", data={"cnic": "12", "csrf_token": csrf_of(first)})
    assert wrong.status_code == 422
    assert "Enter a valid CNIC" in wrong.text
    switch_to_urdu(browser)
    in_urdu = browser.post("/console/documents", data={"cnic": "12", "csrf_token": csrf_of(first)})
    assert in_urdu.status_code == 422
    assert translate("ur", "Enter a valid CNIC: 13 digits, like 12345-1234567-1.") in in_urdu.text


NEXT_FORM = re.compile(r'<input type="hidden" name="after" value="([^"]+)">')


def test_a_cnic_with_more_documents_than_a_page_is_searched_page_by_page_by_post(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    holder = "3520200000421"
    issued = [
        create_document(db, settings, holder_cnic=holder, claims=IDENTITY_CLAIMS).id
        for _ in range(53)
    ]
    create_document(db, settings, holder_cnic="3520200000431", claims=IDENTITY_CLAIMS)
    browser = _officer(make_client, settings, db, "nadra")
    token = csrf_of(browser.get("/console/documents"))

    first = browser.post("/console/documents", data={"cnic": holder, "csrf_token": token})
    assert first.status_code == 200
    assert len(DOCUMENT_LINK.findall(first.text)) == 50
    after = NEXT_FORM.search(first.text)
    assert after is not None, "the page must say there is more, and offer it"
    assert "First page" not in first.text

    second = browser.post(
        "/console/documents",
        data={"cnic": holder, "after": after.group(1).replace("&amp;", "&"), "csrf_token": token},
    )
    shown = DOCUMENT_LINK.findall(first.text) + DOCUMENT_LINK.findall(second.text)
    assert sorted(shown) == sorted(issued) and len(set(shown)) == 53
    assert NEXT_FORM.search(second.text) is None
    assert "First page" in second.text
    assert holder not in str(second.url) and "0000042" not in str(second.url)
