"""``darwaza serve`` with several worker processes on one database: concurrent writes succeed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from darwaza.settings import Settings
from tests.journeys import deliver_due_messages
from tests.servers import darwaza_serve, server_environment


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


def _tcp_inodes(port: int, state: str) -> set[int]:
    """The inodes of this machine's TCP sockets on local ``port`` in ``state`` (hex, as
    ``/proc/net/tcp`` writes it: ``0A`` listening, ``01`` established)."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def _holders(inodes: set[int]) -> dict[int, set[int]]:
    """The processes holding any of these sockets open, with the ones each holds."""
    held_by: dict[int, set[int]] = {}
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (process / "fd").iterdir()]
        except OSError:
            continue  # gone, or not ours to read
        held = {int(link[8:-1]) for link in links if link.startswith("socket:[")} & inodes
        if held:
            held_by[int(process.name)] = held
    return held_by


def _listeners(port: int) -> dict[int, set[int]]:
    """The processes listening on ``port``, each with its listening sockets."""
    return _holders(_tcp_inodes(port, "0A"))


def _answered_by(port: int) -> Counter[int]:
    """How many of the connections open to ``port`` each process holds."""
    return Counter({pid: len(held) for pid, held in _holders(_tcp_inodes(port, "01")).items()})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; SO_REUSEPORT")
def test_each_worker_listens_on_its_own_socket_and_a_burst_of_connections_is_shared(
    settings: Settings, tmp_path: Path
) -> None:
    env = server_environment(settings, tmp_path / "data")
    with darwaza_serve(env, workers=2) as base:
        port = int(base.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30  # the first worker may answer before the second binds
        while len(holders := _listeners(port)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        # Two workers, one socket each; the supervisor holds none, so a worker that dies
        # takes its socket with it and no connection is left waiting on it.
        assert len(holders) == 2
        assert all(len(held) == 1 for held in holders.values())
        assert len(set.union(*holders.values())) == 2

        # 64 keep-alive connections opened at once, as a bank's gateway opens its pool.
        burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
        try:
            time.sleep(0.5)
            shares = _answered_by(port)
            assert set(shares) == set(holders)
            assert min(shares.values()) >= 12, shares  # a hash share, not a burst taken whole
        finally:
            for connection in burst:
                connection.close()

        # A worker killed outright: new connections go to the other, none hangs.
        os.kill(min(holders), signal.SIGKILL)
        for _ in range(20):
            assert httpx.get(f"{base}/healthz", timeout=3).status_code == 200
