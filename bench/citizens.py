"""Citizens at once through the API: sign up, confirm the code, open a draft, save answers,
attach two files, submit. Prints each step's p50 and p99 and the errors (not a test).

.venv/bin/python bench/citizens.py [--citizens 50] [--database sqlite|postgresql|both]

It starts a real `darwaza serve --workers 2` and a `darwaza worker` on a fresh data
directory (and, for PostgreSQL, the database darwaza_bench_citizens), then runs every
citizen's journey in its own thread.
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
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

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


def latest_code(outbox: Path, to: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if outbox.exists():
            for line in reversed(outbox.read_text(encoding="utf-8").splitlines()):
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if message.get("to") == to:
                    found = re.search(r"\b(\d{6})\b", message["text"])
                    if found:
                        return found.group(1)
        time.sleep(0.02)
    raise RuntimeError(f"no code for {to}")


class StepFailed(Exception):
    """A request of the journey was refused; the rest is skipped."""


class Citizen:
    """One citizen's journey through the API, timing each request."""

    def __init__(self, base: str, outbox: Path, number: int) -> None:
        self.client = httpx.Client(base_url=base, timeout=120)
        self.outbox = outbox
        self.number = number
        self.mobile = f"0301{5000000 + number:07d}"
        self.timings: dict[str, float | str] = {}

    def step(self, name: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        answer = self.client.request(method, path, **kwargs)
        self.timings[name] = time.perf_counter() - started
        if answer.status_code >= 400:
            self.timings["error"] = f"{name}: {answer.status_code} {answer.text[:120]}"
            raise StepFailed(name)
        return answer

    def apply(self) -> dict[str, float | str]:
        try:
            with self.client:
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
        code = latest_code(self.outbox, "+92" + self.mobile[1:])
        confirmed = self.step(
            "confirm",
            "POST",
            "/api/v1/auth/confirm",
            json={"challenge_token": asked.json()["challenge_token"], "code": code},
        )
        self.client.headers["Authorization"] = f"Bearer {confirmed.json()['session_token']}"

    def _apply_for_attestation(self) -> None:
        service = {"service_id": "hec-degree-attestation"}
        draft = self.step("draft", "POST", "/api/v1/applications", json=service).json()["id"]
        path = f"/api/v1/applications/{draft}"
        self.step("answers", "PATCH", path, json={"answers": ANSWERS})
        files = (("attach-1", "degree", PDF), ("attach-2", "transcript", PNG))
        for name, requirement, content in files:
            self.step(
                name,
                "POST",
                f"{path}/attachments",
                data={"requirement": requirement},
                files={"file": (f"{requirement}.bin", content)},
            )
        self.step("submit", "POST", f"{path}/submit")


def run(label: str, database_url: str, citizens: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        env = environment(data_dir, database_url)
        subprocess.run([DARWAZA, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([DARWAZA, "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [DARWAZA, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            start_new_session=True,
        )
        worker = subprocess.Popen([DARWAZA, "worker", "--concurrency", "2"], env=env)
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
            outbox = data_dir / "outbox" / "sms.jsonl"
            with ThreadPoolExecutor(max_workers=citizens) as pool:
                results = list(
                    pool.map(lambda n: Citizen(base, outbox, n).apply(), range(citizens))
                )
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
    print(f"\n{label}: {citizens} citizens at once, {len(errors)} errors {errors[:5]}")
    print(f"{'step':<10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in steps.items():
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"{name:<10} {statistics.median(ordered) * 1000:8.1f} {p99 * 1000:8.1f} "
            f"{ordered[-1] * 1000:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=50)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    if args.database in ("sqlite", "both"):
        run("SQLite", "", args.citizens)
    if args.database in ("postgresql", "both"):
        reset_postgres()
        run("PostgreSQL", PG_URL, args.citizens)


if __name__ == "__main__":
    main()
