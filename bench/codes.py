"""What a one-time code costs in process (prints figures; not a test).

A sign-up (a new CNIC), a sign-in (a known one) and the code of a sign-in typed back
(checked, the challenge used up) each run the service in a transaction of their own, as
the API does, beside the least such a request could cost on the same database in the
same run: one transaction adding one challenge row with SQLAlchemy Core.
CPU time is this process's own; on PostgreSQL the server's work is in the wall time.

    .venv/bin/python bench/codes.py [--rounds 1500] [--postgres URL]

``--postgres`` names a scratch database: its public schema is dropped and made again.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select, text

from darwaza.clock import utcnow
from darwaza.database import engine_for, new_public_id, table_of, transaction
from darwaza.identity.models import Citizen, SignInChallenge
from darwaza.identity.service import (
    PURPOSE_SIGN_IN,
    confirm_code,
    start_citizen_sign_in,
    start_citizen_sign_up,
)
from darwaza.jobs.models import Job
from darwaza.migrate import upgrade_database
from darwaza.settings import Settings

SECRET = "bench-secret-not-for-production-0123456789"  # noqa: S105 (a throwaway database)
KNOWN = 2_000  # citizens with an account, asked for in turn


def _address(index: int) -> str:
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"


def sign_up(settings: Settings) -> Callable[[int], None]:
    def one(index: int) -> None:
        with transaction(settings) as db:
            start_citizen_sign_up(
                db,
                settings=settings,
                cnic=f"35201{index:08d}",
                full_name="Bench",
                mobile=f"0301{index:07d}",
                language="en",
                client_address=_address(index),
            )

    return one


def sign_in(settings: Settings) -> Callable[[int], None]:
    def one(index: int) -> None:
        with transaction(settings) as db:
            start_citizen_sign_in(
                db,
                settings=settings,
                cnic=f"35202{index % KNOWN:08d}",
                language="en",
                client_address=_address(index),
            )

    return one


def code_typed(settings: Settings, count: int) -> Callable[[int], None]:
    """Typing back the codes of ``count`` sign-ins asked for here (not measured)."""
    asked: list[tuple[str, str]] = []
    for index in range(count):
        with transaction(settings) as db:
            issued = start_citizen_sign_in(
                db, settings=settings, cnic=f"35202{index % KNOWN:08d}", language="en"
            )
            texted = db.scalar(select(Job.payload).order_by(Job.id.desc()).limit(1))
        found = re.search(r"\b(\d{6})\b", texted["text"] if texted else "")
        assert found, "no code was texted"
        asked.append((issued.challenge_token, found.group(1)))

    def one(index: int) -> None:
        token, code = asked[index % count]
        with transaction(settings) as db:
            signed_in = confirm_code(
                db,
                settings=settings,
                challenge_token=token,
                code=code,
                purposes=(PURPOSE_SIGN_IN,),
                client_address=_address(index),
            )
            assert signed_in is not None, "a right code was refused"

    return one


def one_row(settings: Settings) -> Callable[[int], None]:
    engine = engine_for(settings.resolved_database_url)
    statement = insert(table_of(SignInChallenge))

    def one(index: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                statement,
                {
                    "id": new_public_id(),
                    "purpose": "bench",
                    "subject_hash": f"{index:064d}",
                    "client_hash": "",
                    "recipient_hash": "",
                    "binding_hash": f"{index:064d}",
                    "code_hash": "",
                    "failed_attempts": 0,
                    "created_at": utcnow(),
                    "expires_at": utcnow(),
                },
            )

    return one


def measure(run: Callable[[int], None], start: int, rounds: int) -> tuple[float, float]:
    """CPU and wall microseconds a call, after a tenth as many calls to warm up."""
    for index in range(start, start + rounds // 10):
        run(index)
    start += rounds // 10
    cpu, wall = time.process_time(), time.perf_counter()
    for index in range(start, start + rounds):
        run(index)
    return (
        (time.process_time() - cpu) / rounds * 1e6,
        (time.perf_counter() - wall) / rounds * 1e6,
    )


def prepare(url: str, data_dir: Path) -> Settings:
    if url.startswith("postgresql"):
        with engine_for(url).begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    settings = Settings(
        env="development",
        database_url=url,
        data_dir=data_dir,
        secret_key=SECRET,
        otp_resend_cooldown_seconds=0,
        otp_codes_per_address=10**9,
        sms_per_number_per_hour=10**9,
        sms_per_minute=10**9,
    )
    upgrade_database(settings)
    with transaction(settings) as db:
        for index in range(KNOWN):
            db.add(
                Citizen(
                    cnic=f"35202{index:08d}",
                    full_name="Known",
                    mobile=f"+92302{index:07d}",
                )
            )
    return settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1500)
    parser.add_argument("--postgres", default="", help="a scratch PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.postgres or f"sqlite:///{Path(scratch) / 'bench.db'}"
        settings = prepare(url, Path(scratch))
        database = "PostgreSQL" if args.postgres else "SQLite"
        print(f"{database}, {args.rounds} calls each (after {args.rounds // 10} to warm up)")
        floor_cpu, floor_wall = measure(one_row(settings), 0, args.rounds)
        print(f"{'':<34}{'CPU µs':>9}{'wall µs':>9}{'x one row (CPU)':>17}")
        print(f"{'one challenge row, Core (the floor)':<34}{floor_cpu:9.0f}{floor_wall:9.0f}")
        runs = (
            ("sign-up (new CNIC)", sign_up(settings)),
            ("sign-in (known CNIC)", sign_in(settings)),
            ("a sign-in's code typed", code_typed(settings, args.rounds + args.rounds // 10)),
        )
        for name, run in runs:
            cpu, wall = measure(run, 10 * args.rounds, args.rounds)
            print(f"{name:<34}{cpu:9.0f}{wall:9.0f}{cpu / floor_cpu:17.1f}")


if __name__ == "__main__":
    main()
