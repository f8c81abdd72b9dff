"""Reading a QR code from a photo or a screenshot."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError


def read_qr_image(content: bytes) -> str | None:
    """The text of the first QR code in a photo or screenshot, if one can be read."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            results = zxingcpp.read_barcodes(image.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    for result in results:
        if result.text:
            return str(result.text)
    return None
