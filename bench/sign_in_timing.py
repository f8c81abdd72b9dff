"""Do known and unknown CNICs take the same time to answer? (prints figures; not a test)

Starts the application on a temporary SQLite database and asks for sign-in codes for a
CNIC that has an account and for one that has none, alternately, over HTTP.

    .venv/bin/python bench/sign_in_timing.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from darwaza.app import create_app
from darwaza.database import transaction
from darwaza.identity.models import Citizen
from darwaza.migrate import upgrade_database
from darwaza.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            env="development",
            data_dir=Path(folder),
            otp_resend_cooldown_seconds=0,
            otp_codes_per_address=10**9,
            sms_per_number_per_hour=10**9,
            sms_per_minute=10**9,
        )
        upgrade_database(settings)
        app = create_app(settings)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        with transaction(settings) as db:
            db.add(Citizen(cnic="3520212345671", full_name="Known", mobile="+923001234567"))
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for index in range(rounds * 2):
                kind = "known" if index % 2 == 0 else "unknown"
                cnic = "3520212345671" if kind == "known" else f"35202{index:07d}9"
                started = time.perf_counter()
                response = client.post("/api/v1/auth/sign-in", json={"cnic": cnic})
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 202, response.text
        server.should_exit = True
        for kind, values in timings.items():
            values.sort()
            print(
                f"{kind:<8} median {statistics.median(values):6.2f} ms   "
                f"p90 {values[int(len(values) * 0.9)]:6.2f} ms   ({len(values)} requests)"
            )


if __name__ == "__main__":
    main()
