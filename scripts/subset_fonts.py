"""Subset the two Noto Nastaliq Urdu faces to the characters Urdu pages use.

Run from the repository root after ``make messages`` or a catalogue change added new
characters: ``pip install fonttools brotli && python scripts/subset_fonts.py``. It reads every
Urdu string (the message catalogue and the catalogue's YAML files), keeps those characters
plus digits and punctuation (and everything the font's shaping rules reach from them), and
writes ``noto-nastaliq-urdu-<weight>.<hash>.woff2`` beside the full fonts, then points
``darwaza.css`` at the new files. The hash in the name lets browsers keep a font for a year.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fontTools import subset

ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "darwaza" / "web" / "static" / "fonts"
CSS = ROOT / "darwaza" / "web" / "static" / "css" / "darwaza.css"
SOURCES = [ROOT / "darwaza" / "translations" / "ur" / "LC_MESSAGES" / "messages.po"]
SOURCES += sorted((ROOT / "darwaza" / "demo" / "catalogue").rglob("*.yaml"))
# ASCII, Urdu digits and punctuation, and the marks a name may carry, whatever the texts say.
ALWAYS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩،؛؟۔٪٫٬ـ"
    + "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0654\u0670"
    + "\u200c\u200d\u200e\u200f\u2066\u2067\u2068\u2069«»‘’“”–—…·"
)


def urdu_characters() -> str:
    """Every Arabic-script character in the sources, plus ``ALWAYS``."""
    arabic_script = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
    seen = set(ALWAYS)
    for source in SOURCES:
        seen.update(arabic_script.findall(source.read_text("utf-8")))
    return "".join(sorted(seen))


def subset_face(weight: int, text: str) -> str:
    """Write the subset of one face; answer its file name."""
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]  # Nastaliq is all contextual shaping
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    font = subset.load_font(str(FONTS / f"noto-nastaliq-urdu-arabic-{weight}.woff2"), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    temporary = FONTS / f"noto-nastaliq-urdu-{weight}.tmp.woff2"
    subset.save_font(font, str(temporary), options)
    digest = hashlib.sha256(temporary.read_bytes()).hexdigest()[:12]
    for old in FONTS.glob(f"noto-nastaliq-urdu-{weight}.*.woff2"):
        if old != temporary:
            old.unlink()
    name = f"noto-nastaliq-urdu-{weight}.{digest}.woff2"
    temporary.rename(FONTS / name)
    return name


def main() -> None:
    text = urdu_characters()
    css = CSS.read_text("utf-8")
    for weight in (400, 700):
        name = subset_face(weight, text)
        css = re.sub(
            rf"\.\./fonts/noto-nastaliq-urdu[-a-z]*-{weight}[.0-9a-f]*\.woff2",
            f"../fonts/{name}",
            css,
        )
        print(name, (FONTS / name).stat().st_size, "bytes")
    CSS.write_text(css, "utf-8")


if __name__ == "__main__":
    main()
