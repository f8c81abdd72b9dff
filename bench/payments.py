"""How fast the 1Bill biller API answers on this machine (prints figures; not a test).

Starts a real ``darwaza serve`` on a fresh database, issues challans, then sends
``BillInquiry`` and ``BillPayment`` calls at a fixed rate (open loop: a slow answer does
not slow the sender) and prints the achieved rate and the latency percentiles.

.venv/bin/python bench/payments.py [--rate 200] [--seconds 10] [--postgres URL]

With ``--postgres`` the database's public schema is dropped and rebuilt first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from darwaza.agencies.service import sync_agencies
from darwaza.applications.models import Application
from darwaza.applications.workflow import ApplicationState
from darwaza.audit.actors import Actor
from darwaza.catalogue import load_catalogue
from darwaza.database import engine_for, transaction
from darwaza.identity.models import Citizen
from darwaza.migrate import upgrade_database
from darwaza.payments import service as payments
from darwaza.settings import Settings
from tests.servers import darwaza_serve, server_environment

SECRET = "bench-secret-key-with-enough-length-0123456789"  # noqa: S105 (a throwaway database)
CHANNEL = {"Username": "sandbox", "Password": "sandbox-1bill"}


def prepare(settings: Settings, count: int) -> list[tuple[str, int]]:
    """Issue ``count`` challans for one citizen; return their PSIDs and amounts."""
    upgrade_database(settings)
    issued = []
    with transaction(settings) as db:
        sync_agencies(db, catalogue=load_catalogue(settings.catalogue_dir))
        citizen = Citizen(cnic="3520212345671", full_name="Bench Citizen", mobile="+923001234567")
        db.add(citizen)
        db.flush()
        for _ in range(count):
            application = Application(
                citizen_id=citizen.id,
                service_id="hec-degree-attestation",
                agency_id="hec",
                state=ApplicationState.AWAITING_PAYMENT,
                answers={},
                fee_paisa=100000,
            )
            db.add(application)
            db.flush()
            payment = payments.issue_challan(
                db,
                settings=settings,
                application_id=application.id,
                citizen_id=citizen.id,
                payer_name=citizen.full_name,
                agency_id="hec",
                service_id="hec-degree-attestation",
                tracking_number=None,
                fee_tier=None,
                amount_paisa=100000,
                actor=Actor.operator(),
            )
            issued.append((payment.psid or "", payment.amount_paisa))
    return issued


def drive(
    base: str, rate: float, seconds: float, body_of: list[dict[str, str]], path: str
) -> tuple[float, list[float], dict[str, int]]:
    """Send one call every 1/rate seconds for ``seconds``; latencies in ms and answer codes."""
    latencies: list[float] = []
    codes: dict[str, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def call(body: dict[str, str]) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=10)
        started = time.perf_counter()
        try:
            response = client.post(path, json=body)
            code = str(response.json().get("Response_Code", response.status_code))
        except (httpx.HTTPError, ValueError) as error:
            code = type(error).__name__
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            codes[code] = codes.get(code, 0) + 1

    total = min(int(rate * seconds), len(body_of))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for index in range(total):
            due = start + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(call, body_of[index])
    took = time.perf_counter() - start
    return len(latencies) / took, latencies, codes


def report(name: str, achieved: float, latencies: list[float], codes: dict[str, int]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1] if ordered else 0.0
    print(
        f"{name}: {achieved:.0f} req/s, p50 {statistics.median(ordered):.1f} ms, "
        f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms, answers {codes}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch)
        url = args.postgres or f"sqlite:///{data_dir / 'bench.db'}"
        if args.postgres:
            with engine_for(url).begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        settings = Settings(
            env="development", database_url=url, data_dir=data_dir, secret_key=SECRET
        )
        issued = prepare(settings, count)
        env = server_environment(
            settings.model_copy(update={"key_sealing_secret": SECRET + "-sealing"}),
            data_dir,
            AUDIT_SEQUENCE_SECONDS="2",
        )
        env["DARWAZA_KEY_SEALING_SECRET"] = SECRET + "-sealing"
        with darwaza_serve(env, workers=2) as base:
            inquiries = [
                CHANNEL | {"Consumer_Number": psid, "Bank_Mnemonic": "HBL"} for psid, _ in issued
            ]
            report(
                "BillInquiry",
                *drive(base, args.rate, args.seconds, inquiries, "/api/v1/onebill/bill-inquiry"),
            )
            paying = [
                CHANNEL
                | {
                    "Consumer_Number": psid,
                    "Bank_Mnemonic": "HBL",
                    "Tran_Auth_Id": f"{index:06d}",
                    "Transaction_Amount": f"+{amount:013d}",
                    "Tran_Date": "20261201",
                    "Tran_Time": "101500",
                }
                for index, (psid, amount) in enumerate(issued)
            ]
            report(
                "BillPayment",
                *drive(base, args.rate, args.seconds, paying, "/api/v1/onebill/bill-payment"),
            )
        print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}, server workers: 2")


if __name__ == "__main__":
    main()
