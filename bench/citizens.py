"""Citizens at once through the API: sign up, confirm the code, open a draft, save answers,
attach two files, submit. Prints each step's p50 and p99, the errors, the rate and the CPU
each request cost the server, the job worker and these clients (not a test).

.venv/bin/python bench/citizens.py [--citizens 50] [--rounds 4] [--workers 2]
    [--database sqlite|postgresql|both]

It starts a real `darwaza serve` and a `darwaza worker` on a fresh data directory (and,
for PostgreSQL, the database darwaza_bench_citizens), then keeps ``--citizens`` journeys
going at once, each in its own thread, until each thread has made ``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import urllib3

HERE = Path(__file__).resolve().parent.parent
DARWAZA = str(Path(sys.executable).parent / "darwaza")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ANSWERS = {
    "full_name": "Bench Citizen",
    "university": "university-of-the-punjab",
    "degree_title": "Bachelor of Science (Honours)",
    "programme": "Computer Science",
    "registration_number": "2015-PU-1234",
    "year_of_completion": "2019",
    "date_of_birth": "1997-03-14",
}
PG_URL = "postgresql://postgres@127.0.0.1:5432/darwaza_bench_citizens"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DARWAZA_")}
    env |= {
        "DARWAZA_ENV": "development",
        "DARWAZA_DATA_DIR": str(data_dir),
        "DARWAZA_LOG_LEVEL": "WARNING",
        "DARWAZA_OTP_CODES_PER_ADDRESS": "1000000",
        "DARWAZA_SMS_PER_MINUTE": "1000000",
    }
    if database_url:
        env["DARWAZA_DATABASE_URL"] = database_url
    return env


def reset_postgres() -> None:
    def psql(sql: str) -> None:
        command = ["/usr/bin/psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql]
        subprocess.run(command, check=True, timeout=60)

    psql("DROP DATABASE IF EXISTS darwaza_bench_citizens WITH (FORCE)")
    psql("CREATE DATABASE darwaza_bench_citizens")


def process_group_cpu(group: int) -> float:
    """CPU seconds (user and system) used so far by the processes of one process group."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            seconds += (int(fields[11]) + int(fields[12])) / tick
    return seconds


def cpu_seconds(server: int, worker: int) -> tuple[float, float, float]:
    """CPU used so far by the server's processes, the worker's and this client's."""
    return process_group_cpu(server), process_group_cpu(worker), time.process_time()


class Outbox:
    """The SMS outbox read by one thread for all citizens, each line once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: dict[str, str] = {}
        self.arrived = threading.Condition()
        self.stopped = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        offset = 0
        while not self.stopped.wait(0.01):
            if not self.path.exists():
                continue
            with self.path.open("rb") as outbox:
                outbox.seek(offset)
                lines = outbox.read().split(b"\n")
            offset += sum(len(line) + 1 for line in lines[:-1])
            found = dict(self._codes_in(lines[:-1]))
            if found:
                with self.arrived:
                    self.codes |= found
                    self.arrived.notify_all()

    @staticmethod
    def _codes_in(lines: list[bytes]) -> Iterator[tuple[str, str]]:
        for line in lines:
            message = json.loads(line)
            code = re.search(r"\b(\d{6})\b", message["text"])
            if code:
                yield message["to"], code.group(1)

    def code_for(self, to: str) -> str:
        with self.arrived:
            if not self.arrived.wait_for(lambda: to in self.codes, timeout=30):
                raise RuntimeError(f"no code for {to}")
            return self.codes.pop(to)

    def stop(self) -> None:
        self.stopped.set()
        self.reader.join()


# Not a request: from the sign-up's answer until its code is in the SMS outbox (the job
# worker's part of the journey, which the citizen waits for too).
CODE_WAIT = "code wait"


class StepFailed(Exception):
    """A request of the journey was refused; the rest is skipped."""


class Citizen:
    """One citizen's journey through the API on a connection of its own, timing each request.

    urllib3, not httpx: on two cores shared with the server, the clients' own CPU is
    what the server's requests wait for, and urllib3 costs about a third of httpx's.
    """

    def __init__(self, port: int, outbox: Outbox, number: int) -> None:
        self.connection = urllib3.HTTPConnectionPool(
            "127.0.0.1", port, maxsize=1, timeout=120, retries=False
        )
        self.headers = {"content-type": "application/json"}
        self.outbox = outbox
        self.number = number
        self.mobile = f"0301{5000000 + number:07d}"
        self.timings: dict[str, float | str] = {}

    def step(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        if "fields" in kwargs:
            headers = {"authorization": self.headers["authorization"]}
            answer = self.connection.request(method, path, headers=headers, **kwargs)
        else:
            body = json.dumps(kwargs.get("json", {}))
            answer = self.connection.request(method, path, body=body, headers=self.headers)
        self.timings[name] = time.perf_counter() - started
        if answer.status >= 400:
            self.timings["error"] = f"{name}: {answer.status} {answer.data[:120]!r}"
            raise StepFailed(name)
        return json.loads(answer.data)

    def apply(self) -> dict[str, float | str]:
        try:
            with self.connection:
                self._sign_up()
                self._apply_for_attestation()
        except StepFailed:
            pass
        return self.timings

    def _sign_up(self) -> None:
        cnic = f"3520{5000000 + self.number:09d}"
        asked = self.step(
            "sign-up",
            "POST",
            "/api/v1/auth/sign-up",
            json={"cnic": cnic, "full_name": "Bench", "mobile": self.mobile},
        )
        asked_at = time.perf_counter()
        code = self.outbox.code_for("+92" + self.mobile[1:])
        self.timings[CODE_WAIT] = time.perf_counter() - asked_at
        confirmed = self.step(
            "confirm",
            "POST",
            "/api/v1/auth/confirm",
            json={"challenge_token": asked["challenge_token"], "code": code},
        )
        self.headers["authorization"] = f"Bearer {confirmed['session_token']}"

    def _apply_for_attestation(self) -> None:
        service = {"service_id": "hec-degree-attestation"}
        draft = self.step("draft", "POST", "/api/v1/applications", json=service)["id"]
        path = f"/api/v1/applications/{draft}"
        self.step("answers", "PATCH", path, json={"answers": ANSWERS})
        files = (("attach-1", "degree", PDF), ("attach-2", "transcript", PNG))
        for name, requirement, content in files:
            self.step(
                name,
                "POST",
                f"{path}/attachments",
                fields={"requirement": requirement, "file": (f"{requirement}.bin", content)},
            )
        self.step("submit", "POST", f"{path}/submit")


def run(label: str, database_url: str, citizens: int, rounds: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        env = environment(data_dir, database_url)
        subprocess.run([DARWAZA, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([DARWAZA, "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [DARWAZA, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            start_new_session=True,
        )
        worker = subprocess.Popen(
            [DARWAZA, "worker", "--concurrency", "2"], env=env, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)
            outbox = Outbox(data_dir / "outbox" / "sms.jsonl")
            started, cpu_before = time.perf_counter(), cpu_seconds(server.pid, worker.pid)
            with ThreadPoolExecutor(max_workers=citizens) as pool:
                results = list(
                    pool.map(lambda n: Citizen(port, outbox, n).apply(), range(citizens * rounds))
                )
            elapsed = time.perf_counter() - started
            cpu_after = cpu_seconds(server.pid, worker.pid)
            cpu = [after - before for after, before in zip(cpu_after, cpu_before, strict=True)]
            outbox.stop()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            worker.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            worker.wait(timeout=30)
    steps: dict[str, list[float]] = defaultdict(list)
    errors = [str(r["error"]) for r in results if "error" in r]
    for result in results:
        for name, seconds in result.items():
            if name != "error":
                steps[name].append(float(seconds))
    code_waits = steps.pop(CODE_WAIT, [])
    requests = sum(len(values) for values in steps.values())
    print(
        f"\n{label}: {citizens} citizens at once, {citizens * rounds} journeys, "
        f"{len(errors)} errors {errors[:5]}"
    )
    print(
        f"{requests} requests in {elapsed:.2f} s: {requests / elapsed:.0f} requests/s; "
        f"CPU a request: server {cpu[0] / requests * 1000:.1f} ms, "
        f"worker {cpu[1] / requests * 1000:.1f} ms, these clients {cpu[2] / requests * 1000:.1f} ms"
    )
    print(f"{'step':<10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    every_step = [seconds for values in steps.values() for seconds in values]
    for name, values in [*steps.items(), ("all", every_step), (CODE_WAIT, code_waits)]:
        if not values:
            continue
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"{name:<10} {statistics.median(ordered) * 1000:8.1f} {p99 * 1000:8.1f} "
            f"{ordered[-1] * 1000:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=50, help="at once")
    parser.add_argument("--rounds", type=int, default=4, help="journeys each, one after another")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    if args.database in ("sqlite", "both"):
        run("SQLite", "", args.citizens, args.rounds, args.workers)
    if args.database in ("postgresql", "both"):
        reset_postgres()
        run("PostgreSQL", PG_URL, args.citizens, args.rounds, args.workers)


if __name__ == "__main__":
    main()
