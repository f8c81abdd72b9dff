"""How fast the 1Bill biller API answers on this machine (prints figures; not a test).

Starts a real ``darwaza serve`` on a fresh database, issues challans, then sends
``BillInquiry`` and ``BillPayment`` calls at a fixed rate (open loop: a slow answer does
not slow the sender) and prints the achieved rate and the latency percentiles. Each is
first sent for ``--warm-up`` seconds at the same rate, reported on its own line: a fresh
server's first calls open its database connections and compile its statements.

.venv/bin/python bench/payments.py [--rate 200] [--seconds 10] [--warm-up 2] [--postgres URL]

With ``--postgres`` the database's public schema is dropped and rebuilt first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers import es256_signatures_per_second

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


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough to post JSON and read the
    answer: a light client, so the machine's cores go to the server being measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


async def drive_async(
    base: str, rate: float, seconds: float, body_of: list[dict[str, str]], path: str
) -> tuple[float, list[float], dict[str, int]]:
    """Open loop: call ``i`` is due at ``start + i/rate`` and its latency counts from then,
    so a slow server shows as latency, not as a slower sender."""
    address = urllib.parse.urlsplit(base)
    idle = [Connection(address.hostname or "127.0.0.1", address.port or 80) for _ in range(64)]
    free = asyncio.Queue[Connection]()
    for connection in idle:
        free.put_nowait(connection)
    latencies: list[float] = []
    codes: dict[str, int] = {}
    total = min(int(rate * seconds), len(body_of))

    async def call(index: int, due: float) -> None:
        connection = await free.get()
        try:
            status, body = await connection.post(path, json.dumps(body_of[index]).encode())
            code = str(json.loads(body).get("Response_Code", status))
        except (OSError, ValueError, asyncio.IncompleteReadError) as error:
            code = type(error).__name__
            connection.writer = None
        free.put_nowait(connection)
        latencies.append((time.perf_counter() - due) * 1000)
        codes[code] = codes.get(code, 0) + 1

    # Each call is started when it is due, not all made at once ahead: making thousands
    # of tasks first kept this client busy past the first calls' times, which then
    # counted as the server's latency.
    started: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for index in range(total):
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        started.append(asyncio.create_task(call(index, due)))
    await asyncio.gather(*started)
    took = time.perf_counter() - start
    return len(latencies) / took, latencies, codes


def drive(
    base: str, rate: float, seconds: float, body_of: list[dict[str, str]], path: str
) -> tuple[float, list[float], dict[str, int]]:
    """Send one call every 1/rate seconds for ``seconds``; latencies in ms and answer codes."""
    return asyncio.run(drive_async(base, rate, seconds, body_of, path))


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
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--threads", type=int, default=0, help="request threads per worker (0: the default)"
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=2,
        help="seconds of calls at the same rate before each measured run, reported apart",
    )
    args = parser.parse_args()
    warm = int(args.rate * args.warm_up)
    count = warm + int(args.rate * args.seconds)
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
        if args.postgres:
            # As a database in service would have: the planner's statistics of its tables.
            with engine_for(url).begin() as connection:
                connection.execute(text("ANALYZE"))
        env = server_environment(
            settings.model_copy(update={"key_sealing_secret": SECRET + "-sealing"}),
            data_dir,
            AUDIT_SEQUENCE_SECONDS="2",
            **({"REQUEST_THREADS": str(args.threads)} if args.threads else {}),
        )
        env["DARWAZA_KEY_SEALING_SECRET"] = SECRET + "-sealing"
        host_before = es256_signatures_per_second()
        with darwaza_serve(env, workers=args.workers) as base:
            inquiries = [
                CHANNEL | {"Consumer_Number": psid, "Bank_Mnemonic": "HBL"} for psid, _ in issued
            ]
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
            for name, bodies, path in (
                ("BillInquiry", inquiries, "/api/v1/onebill/bill-inquiry"),
                ("BillPayment", paying, "/api/v1/onebill/bill-payment"),
            ):
                # A fresh server opens its database connections and compiles its
                # statements on the first calls: measured, but apart from the steady state.
                if warm:
                    report(
                        f"{name} warm-up",
                        *drive(base, args.rate, args.warm_up, bodies[:warm], path),
                    )
                report(name, *drive(base, args.rate, args.seconds, bodies[warm:], path))
        print(
            f"database: {'PostgreSQL' if args.postgres else 'SQLite'}, "
            f"server workers: {args.workers}"
        )
        print(
            f"peer, same run: raw ES256 {host_before:.0f} signatures/s per core before, "
            f"{es256_signatures_per_second():.0f} after (this host's speed moves; read the "
            "figures beside it)"
        )


if __name__ == "__main__":
    main()
