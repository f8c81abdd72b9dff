"""Guessing one-time codes gets nowhere: dead codes, growing back-off, same answers for all."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.database import transaction
from darwaza.identity.models import SignInChallenge
from darwaza.identity.service import backoff_for
from darwaza.settings import Settings
from tests.factories import create_staff
from tests.journeys import STAFF_PASSWORD, ClientFactory, latest_code, post_form, sign_up


def ask(client: TestClient, cnic: str) -> tuple[int, str]:
    response = client.post("/api/v1/auth/sign-in", json={"cnic": cnic})
    return response.status_code, response.json().get("challenge_token", "")


def guess(client: TestClient, token: str, code: str) -> int:
    return client.post(
        "/api/v1/auth/confirm", json={"challenge_token": token, "code": code}
    ).status_code


def age_challenges(settings: Settings, minutes: int) -> None:
    """Move every challenge into the past, as if the clock had run on.

    In a transaction that takes SQLite's write lock when it begins: a read that later
    writes fails at once if anything wrote in between, where a writer waits its turn.
    """
    with transaction(settings) as db:
        for challenge in db.scalars(select(SignInChallenge)):
            challenge.created_at -= timedelta(minutes=minutes)


def test_back_off_doubles_with_every_five_wrong_codes() -> None:
    assert backoff_for(4) == timedelta(0)
    assert backoff_for(5) == timedelta(minutes=1)
    assert backoff_for(10) == timedelta(minutes=2)
    assert backoff_for(25) == timedelta(minutes=16)
    assert backoff_for(10_000) == timedelta(hours=24)


def test_a_thousand_guesses_against_one_account_never_sign_in(
    make_client: ClientFactory, settings: Settings
) -> None:
    owner = make_client()
    sign_up(
        owner, settings, cnic="35202-5050505-5", full_name="Target Person", mobile="0330 5050505"
    )
    attacker = make_client()
    guesses = 0
    refused_requests = 0
    code_values = iter(range(1000))
    while guesses < 1000:
        status, token = ask(attacker, "35202-5050505-5")
        if status == 429:
            refused_requests += 1
            age_challenges(settings, minutes=2)  # the attacker waits out the first back-off only
            if refused_requests > 40:
                break
            continue
        assert status == 202
        for _ in range(6):
            value = next(code_values, None)
            if value is None:
                break
            real = latest_code(settings, "+923305050505")
            attempt = f"{value:06d}"
            if attempt == real:
                continue  # only wrong guesses: the point is how many the attacker gets
            assert guess(attacker, token, attempt) == 400
            guesses += 1
    # The back-off grows, so waiting two minutes stops working: far fewer than 1000 tries.
    assert refused_requests > 0
    assert guesses < 200
    # The owner is not locked out for ever: after the back-off they sign in normally.
    age_challenges(settings, minutes=24 * 60 + 1)
    phone = make_client()
    status, token = ask(phone, "35202-5050505-5")
    assert status == 202
    assert guess(phone, token, latest_code(settings, "+923305050505")) == 200


def test_unknown_and_known_accounts_are_throttled_alike(make_client: ClientFactory) -> None:
    browser = make_client()
    answers = [ask(browser, "35202-0000001-1")[0] for _ in range(2)]
    known_like = [ask(browser, "35202-0000002-2")[0] for _ in range(2)]
    # With no cool-down configured in tests, both kinds of CNIC get the same answers.
    assert answers == known_like == [202, 202]


def test_a_used_code_cannot_be_used_again(make_client: ClientFactory, settings: Settings) -> None:
    browser = make_client()
    sign_up(browser, settings, cnic="35202-6060606-6", full_name="Once Only", mobile="0331 6060606")
    api = make_client()
    status, token = ask(api, "35202-6060606-6")
    assert status == 202
    code = latest_code(settings, "+923316060606")
    assert guess(api, token, code) == 200
    assert guess(api, token, code) == 400


def test_thirty_wrong_staff_passwords_are_throttled_and_the_answers_give_no_oracle(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    officer = create_staff(db, settings, username="hec.guarded")
    attacker = make_client()
    answers = []
    for attempt in range(30):
        answer = attacker.post(
            "/api/v1/auth/staff/sign-in",
            json={"username": "hec.guarded", "password": f"guess-number-{attempt}"},
        )
        answers.append(answer.status_code)
    assert answers[:5] == [422] * 5  # wrong, and said so
    assert answers.count(429) >= 24  # then throttled: at most a few guesses got through
    # Throttled, the right password gets exactly the same answer as a wrong one.
    right = attacker.post(
        "/api/v1/auth/staff/sign-in", json={"username": "hec.guarded", "password": STAFF_PASSWORD}
    )
    wrong = attacker.post(
        "/api/v1/auth/staff/sign-in", json={"username": "hec.guarded", "password": "wrong-again"}
    )
    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json())
    assert right.status_code == 429
    # An unknown username is throttled the same way, so the answers do not tell who exists.
    for attempt in range(6):
        unknown = attacker.post(
            "/api/v1/auth/staff/sign-in",
            json={"username": "nobody.here", "password": f"guess-{attempt}"},
        )
    assert unknown.status_code == 429
    # The page answers the same refusal, with the username kept.
    page = post_form(
        make_client(),
        "/console/sign-in",
        {"username": officer.username, "password": STAFF_PASSWORD},
    )
    assert page.status_code == 429
    assert 'value="hec.guarded"' in page.text
