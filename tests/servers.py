"""A real ``darwaza serve`` in a child process, as operators run it, for tests of the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from darwaza.settings import Settings

DARWAZA = str(Path(sys.executable).parent / "darwaza")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(settings: Settings, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server on the test database, with ``extra`` DARWAZA_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DARWAZA_")}
    env |= {
        "DARWAZA_ENV": "test",
        "DARWAZA_DATABASE_URL": settings.resolved_database_url,
        "DARWAZA_DATA_DIR": str(data_dir),
        "DARWAZA_SECRET_KEY": settings.secret_key,
        "DARWAZA_KEY_SEALING_SECRET": settings.key_sealing_secret,
        "DARWAZA_LOG_LEVEL": "WARNING",
        # As in the settings fixture: messages must not wait for the morning in a test.
        "DARWAZA_QUIET_HOURS": "",
    }
    env |= {f"DARWAZA_{name.upper()}": value for name, value in extra.items()}
    return env


@contextmanager
def darwaza_serve(env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """Start ``darwaza serve`` and yield its base URL once ``/readyz`` answers."""
    port = free_port()
    server = subprocess.Popen(
        [DARWAZA, "serve", "--port", str(port), "--workers", str(workers)],
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
            if server.poll() is not None:
                raise AssertionError(server.stderr.read().decode() if server.stderr else "")
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
