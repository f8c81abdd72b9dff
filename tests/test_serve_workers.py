"""``darwaza serve`` with several worker processes on one database: concurrent writes succeed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from darwaza.settings import Settings
from tests.journeys import deliver_due_messages


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_two_workers_take_concurrent_sign_ups_without_locking_errors(
    settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    env = os.environ | {
        "DARWAZA_DATABASE_URL": settings.resolved_database_url,
        "DARWAZA_DATA_DIR": str(tmp_path / "data"),
        "DARWAZA_SECRET_KEY": settings.secret_key,
        "DARWAZA_KEY_SEALING_SECRET": settings.key_sealing_secret,
        "DARWAZA_OTP_RESEND_COOLDOWN_SECONDS": "0",
        "DARWAZA_OTP_CODES_PER_ADDRESS": "1000",
        "DARWAZA_LOG_LEVEL": "WARNING",
    }
    darwaza = Path(sys.executable).parent / "darwaza"
    server = subprocess.Popen(
        [str(darwaza), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)

        def sign_up(number: int) -> int:
            response = httpx.post(
                f"{base}/api/v1/auth/sign-up",
                json={
                    "cnic": f"3520{number:09d}",
                    "full_name": f"Person {number}",
                    "mobile": f"0300{number:07d}",
                },
                timeout=30,
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(sign_up, range(1, 61)))
        assert answers == [202] * 60
        # The codes were queued with each sign-up; a worker on the server's data sends them.
        deliver_due_messages(settings.model_copy(update={"data_dir": tmp_path / "data"}))
        lines = (tmp_path / "data" / "outbox" / "sms.jsonl").read_text().splitlines()
        assert len(lines) == 60
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert b"database is locked" not in errors
