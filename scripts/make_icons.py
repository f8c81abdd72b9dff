"""Draw Darwaza's app icons (a white arched door on green) as PNG and ICO files.

Run from the repository root: ``python scripts/make_icons.py``. The SVG icon beside them is
the same drawing, written by hand.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "darwaza" / "web" / "static" / "icons"
GREEN = (1, 65, 28, 255)
WHITE = (255, 255, 255, 255)


def door(size: int, *, maskable: bool = False) -> Image.Image:
    """The door drawn on a 64-unit grid scaled to ``size``; maskable icons keep a safe zone."""
    scale = size / 64
    image = Image.new("RGBA", (size, size), GREEN if maskable else (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if not maskable:
        draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=int(12 * scale), fill=GREEN)
    shrink = 0.7 if maskable else 1.0  # the middle 80 % survives any mask shape
    offset = 32 * (1 - shrink)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return tuple((offset + v * shrink) * scale for v in (x0, y0, x1, y1))  # type: ignore[return-value]

    draw.ellipse(box(20, 10, 44, 34), fill=WHITE)
    draw.rectangle(box(20, 22, 44, 54), fill=WHITE)
    draw.ellipse(box(25, 17, 39, 31), fill=GREEN)
    draw.rectangle(box(25, 24, 39, 54), fill=GREEN)
    draw.ellipse(box(33, 38, 37, 42), fill=WHITE)
    return image


def main() -> None:
    for size in (180, 192, 512):
        door(size).save(ICONS / f"darwaza-{size}.png", optimize=True)
    door(512, maskable=True).save(ICONS / "darwaza-maskable-512.png", optimize=True)
    door(64).save(ICONS / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
