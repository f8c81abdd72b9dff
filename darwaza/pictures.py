"""Pictures people upload, read without letting one picture stop the server.

A small PNG can declare a billion pixels: decoding it takes seconds and gigabytes. Only a
picture's header is read here (Pillow opens files lazily), and a picture larger than the
caller allows is refused before any pixel is decoded. Pillow's own bomb warnings are
errors.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

from PIL import Image, UnidentifiedImageError

PICTURE_FORMATS: Final = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


class UnreadablePicture(ValueError):
    """Not a picture we read, or one larger than allowed."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.too_large = too_large


def picture_size(content: bytes, *, max_pixels: int) -> tuple[int, int]:
    """The width and height a picture declares, refusing one over ``max_pixels``.

    Nothing beyond the header is decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=PICTURE_FORMATS) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadablePicture("too many pixels", too_large=True) from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UnreadablePicture("not a picture that can be read") from error
    if width <= 0 or height <= 0:
        raise UnreadablePicture("a picture with no pixels")
    if width * height > max_pixels:
        raise UnreadablePicture("too many pixels", too_large=True)
    return width, height


def open_picture(content: bytes, *, max_pixels: int) -> Image.Image:
    """The picture decoded to grey, after :func:`picture_size` has allowed it."""
    picture_size(content, max_pixels=max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=PICTURE_FORMATS) as image:
                image.load()
                return image.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadablePicture("too many pixels", too_large=True) from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UnreadablePicture("not a picture that can be read") from error
