"""Ten million: load a national-size PostgreSQL with COPY, then time the reads that must stay fast.

.venv/bin/python bench/seed_scale.py --database-url postgresql://postgres@127.0.0.1/darwaza_speed_scale
    [--scale 1.0] [--samples 300] [--skip-load]

At ``--scale 1`` it loads 10 million citizens, 10 million documents (one per citizen,
spread over the agencies' status-list shards), 1 million applications and 10 million
audit events, all through ``COPY ... FROM STDIN`` (not ORM inserts), into a database
migrated by ``darwaza db upgrade``. Then it times, with random keys, the queries the
platform runs (written as the services write them) and prints p50 and p99 and the plan
``EXPLAIN`` chose, so index use can be read:

- the wallet (a citizen's documents, by account or by CNIC, newest first);
- the officer queue: its first page, a page filtered by service, and the next page by
  keyset (``(due_at, submitted_at, id)`` after the last row seen);
- the console's issued documents: an agency's newest page, and a page deep in the list
  by keyset (``(issued_at, id)`` before the last row seen);
- a status look-up (one slot of one status list) and a whole shard's statuses;
- every agency's published keys (a JWKS, the trust bundle), with a key retired;
- a tracking-number look-up;
- the audit page (newest 200, and filtered by action and by object).

The database must be one of ours (``darwaza_speed*`` here): the tables are emptied first.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

BIN = Path(sys.executable).parent
AGENCIES = ("nadra", "hec", "fbr", "dgip", "excise-islamabad")
SERVICES = {
    "nadra": ("nadra-identity-card", "nadra-birth-certificate"),
    "hec": ("hec-degree-attestation", "hec-equivalence-certificate"),
    "fbr": ("fbr-ntn-registration",),
    "dgip": ("dgip-passport",),
    "excise-islamabad": ("excise-vehicle-registration",),
}
OPEN_STATES = ("submitted", "in_review", "info_requested", "resubmitted")
ALL_STATES = (*OPEN_STATES, "approved", "approved", "approved", "rejected", "withdrawn", "draft")
SHARD_CAPACITY = 131_072
SHARD_FILL = SHARD_CAPACITY // 2
CHUNK = 50_000
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def public_id(kind: int, number: int) -> str:
    """A stable UUID per (table, row): rows can refer to each other without a look-up."""
    return str(uuid.UUID(int=(kind << 64) | number))


def cnic_of(number: int) -> str:
    return f"{3_520_000_000_000 + number:013d}"


def stamp(seconds: float) -> str:
    return (EPOCH + timedelta(seconds=seconds)).isoformat()


def copy_rows(
    connection: psycopg.Connection[Any], table: str, columns: str, rows: Iterator[str]
) -> None:
    """COPY text-format lines (tab-separated, \\N for null) into ``table``."""
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        batch: list[str] = []
        for line in rows:
            batch.append(line)
            if len(batch) >= CHUNK:
                copy.write("".join(batch))
                batch.clear()
        if batch:
            copy.write("".join(batch))


def load(connection: psycopg.Connection[Any], scale: float) -> dict[str, int]:
    citizens = int(10_000_000 * scale)
    documents = int(10_000_000 * scale)
    applications = int(1_000_000 * scale)
    events = int(10_000_000 * scale)
    rng = random.Random(12)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE audit_events, documents, status_lists, application_events, attachments, "
            "applications, citizens, signing_keys CASCADE"
        )
        # Each agency's current key, which signs every document below, and a key it
        # retired a year ago that signed nothing still in use: the published keys must
        # prove that without reading the documents.
        cursor.executemany(
            "INSERT INTO signing_keys (kid, agency_id, purpose, public_jwk, sealed_private_key, "
            "created_at, retired_at) VALUES (%s, %s, 'documents', '{}', '\\x00', %s, %s)",
            [
                row
                for agency in AGENCIES
                for row in (
                    (f"k{agency}", agency, stamp(-365 * 86_400), None),
                    (f"k{agency}-old", agency, stamp(-730 * 86_400), stamp(-365 * 86_400)),
                )
            ],
        )
    connection.commit()

    started = time.perf_counter()
    copy_rows(
        connection,
        "citizens",
        "id, cnic, full_name, mobile, preferred_language, created_at, mobile_confirmed_at, "
        "identity_proven_at",
        (
            f"{public_id(1, n)}\t{cnic_of(n)}\tCitizen {n}\t+9230{n % 100_000_000:08d}\ten\t"
            f"{stamp(n)}\t{stamp(n)}\t{stamp(n) if n % 3 else chr(92) + 'N'}\n"
            for n in range(citizens)
        ),
    )
    timings = {"citizens": time.perf_counter() - started}

    shards_per_agency = max(1, -(-documents // (SHARD_FILL * len(AGENCIES))))
    shards = [
        (public_id(2, a * 10_000 + s), agency)
        for a, agency in enumerate(AGENCIES)
        for s in range(shards_per_agency)
    ]
    copy_rows(
        connection,
        "status_lists",
        "id, agency_id, capacity, allocated, version, created_at, updated_at",
        (
            f"{shard_id}\t{agency}\t{SHARD_CAPACITY}\t{SHARD_FILL}\t0\t{stamp(0)}\t{stamp(0)}\n"
            for shard_id, agency in shards
        ),
    )

    started = time.perf_counter()

    def document_rows() -> Iterator[str]:
        for n in range(documents):
            shard_id, agency = shards[n % len(shards)]
            slot = (n // len(shards)) * 2  # every other slot: unique within the shard
            holder = n % citizens
            # Most documents reach the account; a third were issued to a CNIC only.
            citizen = public_id(1, holder) if n % 3 else "\\N"
            status = "revoked" if n % 97 == 0 else "suspended" if n % 211 == 0 else "valid"
            yield (
                f"{public_id(3, n)}\t{agency}\t{SERVICES[agency][0]}\t{citizen}\t{cnic_of(holder)}"
                f"\t{{}}\t{status}\t{shard_id}\t{slot}\tk{agency}\tx\tx\t{stamp(n * 3)}\n"
            )

    copy_rows(
        connection,
        "documents",
        "id, agency_id, document_type, citizen_id, holder_cnic, claims, status, "
        "status_list_id, status_index, kid, sd_jwt, qr_text, issued_at",
        document_rows(),
    )
    timings["documents"] = time.perf_counter() - started

    started = time.perf_counter()

    def application_rows() -> Iterator[str]:
        for n in range(applications):
            agency = AGENCIES[n % len(AGENCIES)]
            service = SERVICES[agency][n % len(SERVICES[agency])]
            state = ALL_STATES[rng.randrange(len(ALL_STATES))]
            submitted = stamp(n * 30) if state != "draft" else "\\N"
            due = stamp(n * 30 + 86_400 * 10) if state != "draft" else "\\N"
            tracking = f"DZ-{n // 10_000:04d}-{n % 10_000:04d}-00" if state != "draft" else "\\N"
            yield (
                f"{public_id(4, n)}\t{tracking}\t{public_id(1, (n * 7) % citizens)}\t{service}\t"
                f"{agency}\t{state}\t{{}}\t{{}}\t0\t{stamp(n * 30)}\t{stamp(n * 30)}\t"
                f"{submitted}\t{due}\n"
            )

    copy_rows(
        connection,
        "applications",
        "id, tracking_number, citizen_id, service_id, agency_id, state, answers, "
        "wallet_documents, fee_paisa, created_at, updated_at, submitted_at, due_at",
        application_rows(),
    )
    timings["applications"] = time.perf_counter() - started

    started = time.perf_counter()
    actions = ("document.issued", "application.submitted", "session.started", "document.viewed")

    def event_rows() -> Iterator[str]:
        for n in range(events):
            action = actions[n % len(actions)]
            subject = public_id(1, n % citizens)
            yield (
                f"{n + 1}\t{stamp(n * 3)}\tstaff\t{public_id(5, n % 5_000)}\t{action}\t"
                f"document\t{public_id(3, n % max(documents, 1))}\t\\N\t{{}}\t{subject}\n"
            )

    copy_rows(
        connection,
        "audit_events",
        "id, at, actor_kind, actor_id, action, object_type, object_id, before, after, subject_id",
        event_rows(),
    )
    timings["audit_events"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
            "(SELECT coalesce(max(id), 1) FROM audit_events))"
        )
    connection.commit()
    connection.autocommit = True
    started = time.perf_counter()
    connection.execute("VACUUM ANALYZE")
    connection.autocommit = False
    timings["vacuum analyze"] = time.perf_counter() - started
    for table, seconds in timings.items():
        print(f"  loaded {table:<14} in {seconds:7.1f} s")
    return {"citizens": citizens, "documents": documents, "applications": applications}


def time_query(
    connection: psycopg.Connection[Any],
    label: str,
    sql: str,
    parameters: Callable[[], tuple[Any, ...]],
    samples: int,
) -> None:
    durations = []
    with connection.cursor() as cursor:
        for _ in range(samples):
            values = parameters()
            started = time.perf_counter()
            cursor.execute(sql, values)  # type: ignore[arg-type]
            cursor.fetchall()
            durations.append((time.perf_counter() - started) * 1000)
        cursor.execute(f"EXPLAIN {sql}", parameters())  # type: ignore[arg-type]
        plan = [row[0] for row in cursor.fetchall()]
    connection.rollback()
    durations.sort()
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    verdict = "ok" if p99 < 10 else "OVER 10 ms"
    print(f"\n{label}: p50 {statistics.median(durations):.2f} ms, p99 {p99:.2f} ms ({verdict})")
    for line in plan:
        print(f"    {line}")


def measure(connection: psycopg.Connection[Any], sizes: dict[str, int], samples: int) -> None:
    rng = random.Random(7)
    citizens, documents, applications = sizes["citizens"], sizes["documents"], sizes["applications"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM status_lists")
        shard_ids = [row[0] for row in cursor.fetchall()]
    open_states = list(OPEN_STATES)

    def a_citizen() -> tuple[Any, ...]:
        n = rng.randrange(citizens)
        return (public_id(1, n), cnic_of(n))

    time_query(
        connection,
        "wallet: a citizen's documents, newest first",
        "SELECT * FROM documents WHERE citizen_id = %s OR holder_cnic = %s ORDER BY issued_at DESC",
        a_citizen,
        samples,
    )
    queue = (
        "SELECT * FROM applications WHERE agency_id = %s AND state != 'draft' "
        "AND state = ANY(%s) {extra} ORDER BY due_at, submitted_at, id LIMIT 50"
    )
    time_query(
        connection,
        "officer queue: first page of an agency's open applications",
        queue.format(extra=""),
        lambda: (rng.choice(AGENCIES), open_states),
        samples,
    )

    def agency_and_service() -> tuple[Any, ...]:
        agency = rng.choice(AGENCIES)
        return (agency, open_states, rng.choice(SERVICES[agency]))

    time_query(
        connection,
        "officer queue: filtered by service",
        queue.format(extra="AND service_id = %s"),
        agency_and_service,
        samples,
    )
    time_query(
        connection,
        "officer queue: filtered by one state",
        queue.format(extra="AND state = %s"),
        lambda: (rng.choice(AGENCIES), open_states, rng.choice(open_states)),
        samples,
    )

    def after_a_page() -> tuple[Any, ...]:
        n = rng.randrange(applications)
        due = EPOCH + timedelta(seconds=n * 30 + 86_400 * 10)
        return (rng.choice(AGENCIES), open_states, due, due, public_id(4, n))

    time_query(
        connection,
        "officer queue: next page by keyset",
        queue.format(extra="AND (due_at, submitted_at, id) > (%s, %s, %s)"),
        after_a_page,
        samples,
    )
    issued_list = (
        "SELECT * FROM documents WHERE agency_id = %s {extra} "
        "ORDER BY issued_at DESC, id DESC LIMIT 51"
    )
    time_query(
        connection,
        "issued documents: an agency's newest page",
        issued_list.format(extra=""),
        lambda: (rng.choice(AGENCIES),),
        samples,
    )

    def deep_in_the_list() -> tuple[Any, ...]:
        n = rng.randrange(documents)
        return (rng.choice(AGENCIES), EPOCH + timedelta(seconds=n * 3), public_id(3, n))

    time_query(
        connection,
        "issued documents: a page deep in the list, by keyset",
        issued_list.format(extra="AND (issued_at, id) < (%s, %s)"),
        deep_in_the_list,
        samples,
    )
    slots_per_shard = max(1, documents // max(1, len(shard_ids)))
    time_query(
        connection,
        "status look-up: one slot of one list",
        "SELECT status FROM documents WHERE status_list_id = %s AND status_index = %s",
        lambda: (rng.choice(shard_ids), rng.randrange(slots_per_shard) * 2),
        samples,
    )
    time_query(
        connection,
        "published keys: every agency's current and still-needed keys (JWKS, trust bundle)",
        "SELECT agency_id, public_jwk, retired_at FROM signing_keys WHERE purpose = 'documents' "
        "AND (retired_at IS NULL OR (SELECT kid FROM documents WHERE documents.kid = "
        "signing_keys.kid AND expires_at IS NULL ORDER BY kid, expires_at LIMIT 1) IS NOT NULL "
        "OR (SELECT kid FROM documents WHERE documents.kid = signing_keys.kid AND expires_at > %s "
        "ORDER BY kid, expires_at LIMIT 1) IS NOT NULL) ORDER BY created_at",
        lambda: (datetime.now(UTC),),
        samples,
    )
    time_query(
        connection,
        "tracking number look-up",
        "SELECT * FROM applications WHERE tracking_number = %s",
        lambda: (
            f"DZ-{rng.randrange(max(1, applications // 10_000)):04d}-"
            f"{rng.randrange(10_000):04d}-00",
        ),
        samples,
    )
    time_query(
        connection,
        "audit page: newest 200 events",
        "SELECT * FROM audit_events ORDER BY id DESC LIMIT 200",
        lambda: (),
        samples,
    )
    time_query(
        connection,
        "audit page: newest 200 of one action",
        "SELECT * FROM audit_events WHERE action = %s ORDER BY id DESC LIMIT 200",
        lambda: (rng.choice(("document.issued", "session.started")),),
        samples,
    )
    time_query(
        connection,
        "audit page: one object's events",
        "SELECT * FROM audit_events WHERE object_id = %s ORDER BY id DESC LIMIT 200",
        lambda: (public_id(3, rng.randrange(documents)),),
        samples,
    )
    time_query(
        connection,
        "who looked: a citizen's staff views",
        "SELECT * FROM audit_events WHERE subject_id = %s AND action = ANY(%s) "
        "ORDER BY id DESC LIMIT 200",
        lambda: (public_id(1, rng.randrange(citizens)), ["document.viewed"]),
        samples,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1/darwaza_speed_scale"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: ten million citizens")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--skip-load", action="store_true", help="time what is loaded already")
    options = parser.parse_args()
    env = {**os.environ, "DARWAZA_ENV": "development", "DARWAZA_DATABASE_URL": options.database_url}
    subprocess.run([str(BIN / "darwaza"), "db", "upgrade"], env=env, check=True)
    from darwaza.agencies.service import sync_agencies
    from darwaza.catalogue.loading import load_catalogue
    from darwaza.database import transaction
    from darwaza.settings import Settings

    settings = Settings(env="development", database_url=options.database_url)
    with transaction(settings) as session:
        sync_agencies(session, catalogue=load_catalogue(settings.catalogue_dir))

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, scale {options.scale:g}")
    with psycopg.connect(options.database_url.replace("+psycopg", "")) as connection:
        if options.skip_load:
            with connection.cursor() as cursor:
                sizes = {}
                for table in ("citizens", "documents", "applications"):
                    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
                    sizes[table] = int(cursor.fetchone()[0])  # type: ignore[index]
        else:
            sizes = load(connection, options.scale)
        print(", ".join(f"{count:,} {table}" for table, count in sizes.items()))
        measure(connection, sizes, options.samples)


if __name__ == "__main__":
    main()
