"""Darwaza over HTTP beside a bare FastAPI app, with wrk, in one run.

(Not ``bench/http.py``: run as a script, a file of that name in this folder would hide the
standard library's ``http`` package from every script here.)

.venv/bin/python bench/http_load.py [--duration 10] [--connections 64] [--database-url URL]

Starts ``darwaza serve --workers 2`` on a fresh database (SQLite in a temporary data
directory, or the PostgreSQL database given, which must be empty or Darwaza's own) and
a bare FastAPI hello-world with 2 uvicorn workers from the same virtual environment,
then runs wrk (``apt-get install wrk``) at 64 connections against:

- ``/healthz`` on Darwaza and ``/`` on the bare app (the cost of the framework and
  middleware; goal: at least 80 % of the bare app);
- ``POST /api/v1/verify`` of a compact QR issued for the run (a wrk Lua script; goal:
  at least 50 % of the same server's ``/healthz``, p99 under 20 ms);
- public pages: home, the services list, one service and the verify page (p99 under
  50 ms), the status-list token with and without ``If-None-Match``, the trust bundle
  and an agency's keys (what verifiers and CDNs download).

Prints requests per second, p99 latency, errors and the ratios. The machine is shared,
so read the ratios; absolute figures move from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BIN = Path(sys.executable).parent
BARE_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def hello() -> dict[str, str]:
    return {"hello": "world"}
"""
VERIFY_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""
ETAG_LUA = """
wrk.headers["If-None-Match"] = {etag}
"""
# wrk's --latency table; p99 is the line we read.
P99 = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)")


@dataclass
class Result:
    label: str
    rate: float
    p99_ms: float
    errors: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def wrk(label: str, url: str, options: argparse.Namespace, script: Path | None = None) -> Result:
    command = [
        "wrk",
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{options.duration}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate_match = RATE.search(output)
    p99_match = P99.search(output)
    if rate_match is None or p99_match is None:
        raise SystemExit(f"could not read wrk's output:\n{output}")
    value, unit = float(p99_match.group(1)), p99_match.group(2)
    p99_ms = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = "; ".join(
        f"non-2xx/3xx {found[0]}" if found[0] else f"socket {found[1]}"
        for found in ERRORS.findall(output)
    )
    return Result(label, float(rate_match.group(1)), p99_ms, errors or "0")


def darwaza(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [str(BIN / "darwaza"), *args], env=env, capture_output=True, text=True, check=True
    ).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--database-url", default="", help="PostgreSQL; default SQLite")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="darwaza-http-"))
    env = {
        **os.environ,
        "DARWAZA_ENV": "development",
        "DARWAZA_DATA_DIR": str(work / "data"),
        "DARWAZA_LOG_LEVEL": "WARNING",
    }
    if options.database_url:
        env["DARWAZA_DATABASE_URL"] = options.database_url
    darwaza("db", "upgrade", env=env)
    darwaza("demo", env=env)
    issued = json.loads(
        darwaza(
            "documents",
            "issue",
            "--agency",
            "hec",
            "--type",
            "hec-degree-attestation",
            "--cnic",
            "3520212345671",
            "--claims",
            json.dumps(
                {
                    "full_name": "Fatima Khan",
                    "degree_title": "Bachelor of Science (Honours)",
                    "programme": "Computer Science",
                    "university": "University of the Punjab, Lahore",
                    "year_of_completion": 2019,
                }
            ),
            "--json",
            env=env,
        )
    )
    qr = issued["qr"]
    verify_script = work / "verify.lua"
    verify_script.write_text(
        VERIFY_LUA.format(body=json.dumps(json.dumps({"credential": qr}))), encoding="utf-8"
    )
    (work / "bare_app.py").write_text(textwrap.dedent(BARE_APP), encoding="utf-8")

    port, bare_port = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [str(BIN / "darwaza"), "serve", "--port", str(port), "--workers", str(options.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / "darwaza.log").open("w"),
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "bare_app:app",
                "--port",
                str(bare_port),
                "--workers",
                str(options.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / "bare.log").open("w"),
            start_new_session=True,
        ),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz")
        wait_until_up(f"http://127.0.0.1:{bare_port}/")
        shard = urllib.parse.urlsplit(issued["status_list"]["uri"]).path
        with urllib.request.urlopen(f"{base}{shard}") as answer:  # noqa: S310 - local
            etag = answer.headers.get("ETag")
        results = [
            wrk("bare FastAPI hello-world", f"http://127.0.0.1:{bare_port}/", options),
            wrk("darwaza /healthz", f"{base}/healthz", options),
            wrk(
                "darwaza POST /api/v1/verify (QR)", f"{base}/api/v1/verify", options, verify_script
            ),
            wrk("page /", f"{base}/", options),
            wrk("page /services", f"{base}/services", options),
            wrk(
                "page /services/hec-degree-attestation",
                f"{base}/services/hec-degree-attestation",
                options,
            ),
            wrk("page /verify", f"{base}/verify", options),
            wrk("status list token", f"{base}{shard}", options),
            wrk("trust bundle", f"{base}/trust-bundle", options),
            wrk("an agency's keys (JWKS)", f"{base}/agencies/hec/jwks.json", options),
        ]
        if etag:
            etag_script = work / "etag.lua"
            etag_script.write_text(ETAG_LUA.format(etag=json.dumps(etag)), encoding="utf-8")
            results.append(
                wrk("status list, If-None-Match (304)", f"{base}{shard}", options, etag_script)
            )
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)

    database = "PostgreSQL" if options.database_url else "SQLite"
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {database}, {options.workers} workers each, "
        f"wrk {options.connections} connections x {options.duration} s, {os.cpu_count()} cores"
    )
    for result in results:
        print(
            f"  {result.label:<42} {result.rate:>9,.0f} req/s   p99 {result.p99_ms:>8.1f} ms"
            f"   errors {result.errors}"
        )
    by_label = {result.label: result for result in results}
    healthz = by_label["darwaza /healthz"]
    verify = by_label["darwaza POST /api/v1/verify (QR)"]
    bare = by_label["bare FastAPI hello-world"]
    print("Ratios:")
    print(f"  /healthz / bare FastAPI: {healthz.rate / bare.rate:.2f} (goal 0.80)")
    print(
        f"  verify / /healthz: {verify.rate / healthz.rate:.2f} (goal 0.50), "
        f"p99 {verify.p99_ms:.1f} ms (goal < 20)"
    )
    pages = [r for r in results if r.label.startswith("page ")]
    print(f"  worst page p99: {max(r.p99_ms for r in pages):.1f} ms (goal < 50)")


if __name__ == "__main__":
    main()
