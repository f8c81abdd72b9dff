"""Reading a QR code from a photo or a screenshot, safely.

A photo of a QR code needs no more than about 16 megapixels. A larger picture is refused
from its header, before decoding. Decoding runs in a worker thread, never on the event
loop, at most two at a time in a process, within a time limit, and each network address
may send only so many pictures a minute.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Final

import anyio
import zxingcpp

from darwaza.errors import DarwazaError, InvalidInput, TooManyRequests
from darwaza.i18n import N_
from darwaza.pictures import UnreadablePicture, open_picture

MAX_QR_PIXELS: Final = 16_000_000
MAX_IMAGE_BYTES: Final = 8 * 1024 * 1024
DECODE_SECONDS: Final = 5.0
DECODES_AT_ONCE: Final = 2
PICTURES_PER_MINUTE: Final = 30

NO_QR_IN_PICTURE: Final = N_(
    "No QR code could be read in that picture. Try a sharper photo, or paste the text."
)
PICTURE_TOO_LARGE: Final = N_(
    "That picture is too large to check. Send a photo of the QR code of at most 16 megapixels."
)
PICTURE_TOO_SLOW: Final = N_(
    "That picture took too long to read. Try a smaller, sharper photo of the QR code."
)


class PictureRefused(InvalidInput):
    """A picture that cannot be checked, with the reason in the reader's language."""

    code = "unreadable_picture"


def read_qr_image(content: bytes) -> str | None:
    """The text of the first QR code in a photo or screenshot, if one can be read.

    Raises :class:`PictureRefused` for a picture over the size limits.
    """
    if len(content) > MAX_IMAGE_BYTES:
        raise PictureRefused(PICTURE_TOO_LARGE)
    try:
        picture = open_picture(content, max_pixels=MAX_QR_PIXELS)
    except UnreadablePicture as problem:
        if problem.too_large:
            raise PictureRefused(PICTURE_TOO_LARGE) from problem
        return None
    for result in zxingcpp.read_barcodes(picture):
        if result.text:
            return str(result.text)
    return None


_decoding = threading.BoundedSemaphore(DECODES_AT_ONCE)
_recent: dict[str, deque[float]] = {}
_recent_lock = threading.Lock()


def _note_picture_from(address: str) -> None:
    """Refuse an address that sent too many pictures this minute (kept per process)."""
    now = time.monotonic()
    with _recent_lock:
        times = _recent.setdefault(address, deque())
        while times and times[0] < now - 60:
            times.popleft()
        if len(times) >= PICTURES_PER_MINUTE:
            raise TooManyRequests()
        times.append(now)
        if len(_recent) > 10_000:  # forget quiet addresses rather than grow without end
            for quiet in [key for key, value in _recent.items() if not value]:
                del _recent[quiet]


def _decode_when_free(content: bytes) -> str | None:
    if not _decoding.acquire(timeout=DECODE_SECONDS):
        raise PictureRefused(PICTURE_TOO_SLOW)
    try:
        return read_qr_image(content)
    finally:
        _decoding.release()


async def read_qr_image_off_loop(content: bytes, *, client_address: str) -> str | None:
    """:func:`read_qr_image` in a worker thread, within a time limit, throttled per address.

    A decode that overruns the limit keeps its thread until it ends (the size cap bounds
    it), but the request answers at once and holds no slot of the event loop.
    """
    _note_picture_from(client_address)
    try:
        with anyio.fail_after(DECODE_SECONDS):
            return await anyio.to_thread.run_sync(
                _decode_when_free, content, abandon_on_cancel=True
            )
    except TimeoutError as error:
        raise PictureRefused(PICTURE_TOO_SLOW) from error
    except DarwazaError:
        raise
