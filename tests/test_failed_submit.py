"""A failed submit: the title says "Error:", only what needs attention is said, and every field
with an error or a hint is tied to it for screen readers (axe does not check this)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from darwaza.settings import Settings
from tests.journeys import csrf_of, sign_up, start_degree_application


class Fields(HTMLParser):
    """Every form control's attributes, and every element id."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        if tag in ("input", "select", "textarea") and values.get("type") not in ("hidden", "radio"):
            self.controls.append(values)


def test_a_failed_submit_marks_each_field_and_says_error_in_the_title(
    make_client: Callable[[], TestClient], settings: Settings
) -> None:
    client = make_client()
    sign_up(client, settings, cnic="35202-8888111-3", full_name="Sana", mobile="0321 8888111")
    application_id = start_degree_application(client)
    page = f"/applications/{application_id}"
    token = csrf_of(client.get(page))
    answer = client.post(
        page,
        data={"action": "submit", "full_name": "Sana", "csrf_token": token},
    )
    assert answer.status_code >= 400
    html = answer.text
    assert re.search(r"<title>Error: ", html)
    assert "Your answers are saved" not in html
    assert 'id="error-summary"' in html
    parsed = Fields()
    parsed.feed(html)
    invalid = [c for c in parsed.controls if c.get("aria-invalid") == "true"]
    assert invalid, "the fields in error are marked"
    for control in parsed.controls:
        error_id = "error-" + control.get("name", "").removeprefix("file:")
        described = control.get("aria-describedby", "").split()
        for target in described:
            assert target in parsed.ids, f"{control.get('id')} points at a missing {target}"
        if error_id in parsed.ids:
            assert control.get("aria-invalid") == "true", control
            assert error_id in described, control
    # The full name was filled in: not marked.
    name = next(c for c in parsed.controls if c.get("name") == "full_name")
    assert "aria-invalid" not in name


def test_sign_up_errors_are_tied_to_their_fields(make_client: Callable[[], TestClient]) -> None:
    client = make_client()
    token = csrf_of(client.get("/sign-up"))
    answer = client.post(
        "/sign-up", data={"cnic": "123", "full_name": "", "mobile": "1", "csrf_token": token}
    )
    parsed = Fields()
    parsed.feed(answer.text)
    cnic = next(c for c in parsed.controls if c.get("name") == "cnic")
    assert cnic["aria-describedby"] == "hint-cnic error-cnic"
    assert cnic["aria-invalid"] == "true"
    assert answer.text.count("<title>Error: ") == 1
