"""The attacks an outside review made, made again against a running server.

Each test performs the attack itself; see issue "Close the holes an outside review found".
"""

from __future__ import annotations

import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from darwaza.settings import Settings
from tests.journeys import csrf_of
from tests.servers import DARWAZA, darwaza_serve, server_environment


def png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of ``width`` x ``height`` black pixels: tiny on the wire."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    squeezer = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte and the row's pixels
    rows_per_piece = max(1, (1 << 20) // len(row))
    piece = row * rows_per_piece
    compressed = []
    for _ in range(height // rows_per_piece):
        compressed.append(squeezer.compress(piece))
    compressed.append(squeezer.compress(row * (height % rows_per_piece)))
    compressed.append(squeezer.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(compressed))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    env = server_environment(settings, tmp_path / "data", otp_resend_cooldown_seconds="0")
    with darwaza_serve(env) as base:
        yield base


def test_an_image_bomb_is_refused_at_once_while_the_server_keeps_answering(server: str) -> None:
    bomb = png_bomb(12_000, 12_000)  # 144 megapixels
    assert len(bomb) < 600_000
    huge = png_bomb(20_000, 20_000)  # 400 megapixels
    with httpx.Client(base_url=server, timeout=30) as browser:
        token = csrf_of(browser.get("/verify"))
        health_times: list[float] = []
        stop = threading.Event()

        def watch_health() -> None:
            with httpx.Client(base_url=server, timeout=10) as watcher:
                while not stop.is_set():
                    started = time.monotonic()
                    assert watcher.get("/healthz").status_code == 200
                    health_times.append(time.monotonic() - started)
                    time.sleep(0.05)

        watcher = threading.Thread(target=watch_health)
        watcher.start()
        while not health_times:
            time.sleep(0.01)
        try:
            for picture in (bomb, huge):
                started = time.monotonic()
                answer = browser.post(
                    "/verify",
                    data={"csrf_token": token},
                    files={"image": ("qr.png", picture, "image/png")},
                )
                took = time.monotonic() - started
                assert 400 <= answer.status_code < 500, answer.status_code
                assert "too large to check" in answer.text
                assert took < 2
            time.sleep(0.3)
        finally:
            stop.set()
            watcher.join()
    assert len(health_times) > 2 and max(health_times) < 1


def test_a_chunked_60_mb_body_is_cut_off_with_413(server: str) -> None:
    def body(opening: bytes) -> Iterator[bytes]:
        yield opening
        piece = b"1" * (1 << 20)
        for _ in range(60):
            yield piece

    picture = b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    with httpx.Client(base_url=server, timeout=30) as client:
        token = csrf_of(client.get("/verify"))
        form = (
            b'--x\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            + token.encode()
            + b"\r\n"
            + picture
        )
        attempts = (
            ("/api/v1/auth/sign-in", b'{"cnic": "', {"content-type": "application/json"}),
            ("/verify", form, multipart),
            ("/verify", picture, multipart),  # no CSRF token: cut off all the same
        )
        for path, opening, headers in attempts:
            answer = client.post(path, content=body(opening), headers=headers)
            assert answer.status_code == 413, (path, answer.status_code)
            assert "content-length" not in answer.request.headers  # really chunked


def test_a_spoofed_x_forwarded_for_does_not_escape_the_per_address_limit(
    settings: Settings, tmp_path: Path
) -> None:
    env = server_environment(
        settings,
        tmp_path / "data",
        otp_codes_per_address="3",
        otp_resend_cooldown_seconds="0",
    )
    with darwaza_serve(env) as base, httpx.Client(base_url=base, timeout=10) as client:
        answers = [
            client.post(
                "/api/v1/auth/sign-in",
                json={"cnic": f"35202-123456{n}-1"},
                headers={"X-Forwarded-For": f"10.0.0.{n}"},
            ).status_code
            for n in range(6)
        ]
    assert answers[:3] == [202] * 3
    assert answers[3:] == [429] * 3


def test_texts_to_one_number_are_capped_and_the_answers_stay_the_same(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.journeys import register_sim, sms_messages

    env = server_environment(
        settings, tmp_path / "data", sms_per_number_per_hour="2", otp_resend_cooldown_seconds="0"
    )
    data_settings = settings.model_copy(update={"data_dir": tmp_path / "data"})
    register_sim(data_settings, cnic="35202-9990001-1", mobile="03009990001")
    with darwaza_serve(env) as base, httpx.Client(base_url=base, timeout=10) as client:
        answers = [
            client.post(
                "/api/v1/auth/sign-up",
                json={
                    "cnic": "35202-9990001-1",
                    "full_name": "Flood Target",
                    "mobile": "03009990001",
                },
            ).status_code
            for _ in range(5)
        ]
        time.sleep(0.5)  # texts go out just after the answers
    assert answers == [202] * 5
    assert len([m for m in sms_messages(data_settings) if m["to"] == "+923009990001"]) == 2


def test_the_server_refuses_to_start_on_default_secrets_unless_told_it_is_development(
    tmp_path: Path,
) -> None:
    plain = {"PATH": "/usr/bin:/bin", "DARWAZA_DATA_DIR": str(tmp_path / "data")}
    refused = subprocess.run(
        [DARWAZA, "serve", "--port", "1"], env=plain, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0
    assert "Refusing to start in production with a default or short secret" in refused.stderr
    demo = subprocess.run(
        [DARWAZA, "demo"],
        env=plain
        | {
            "DARWAZA_ENV": "production",
            "DARWAZA_SECRET_KEY": "s" * 40,
            "DARWAZA_KEY_SEALING_SECRET": "k" * 40,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode != 0
    assert "never loaded in production" in demo.stderr
