"""Languages of the platform: English (the source text) and Urdu.

Message catalogues are Babel ``.po`` files under ``darwaza/translations``. They are
compiled in memory when first needed, so no generated ``.mo`` file is kept in the tree.
Text is marked in Python with :func:`N_` (extraction marker, no translation at mark
time) and translated at the edge (page or API answer) with :func:`translate`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGUAGES: Final = ("en", "ur")
DEFAULT_LANGUAGE: Final = "en"
RTL_LANGUAGES: Final = frozenset({"ur"})
TRANSLATIONS_DIR: Final = Path(__file__).parent / "translations"


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, where it is shown."""
    return message


@functools.cache
def translations_for(language: str) -> Translations:
    """The compiled catalogue of ``language`` (English needs none: it is the source)."""
    po_path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po_path.exists():
        return Translations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def normalise_language(language: str | None) -> str:
    """Return a supported language code, falling back to English."""
    if language:
        code = language.strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def localised(value: Any, language: str) -> Any:
    """Pick the text for ``language`` from a ``{"en": .., "ur": ..}`` mapping, else ``value``."""
    if isinstance(value, Mapping) and DEFAULT_LANGUAGE in value:
        return value.get(normalise_language(language)) or value[DEFAULT_LANGUAGE]
    if hasattr(value, DEFAULT_LANGUAGE) and hasattr(value, "ur"):  # a bilingual text model
        return getattr(value, normalise_language(language)) or getattr(value, DEFAULT_LANGUAGE)
    return value


def translate(language: str, message: str, params: Mapping[str, Any] | None = None) -> str:
    """Translate ``message`` into ``language`` and fill ``{name}`` placeholders.

    A parameter given as ``{"en": .., "ur": ..}`` is resolved in ``language`` first.
    """
    text = translations_for(normalise_language(language)).gettext(message)
    if not params:
        return text
    return text.format(**{name: localised(value, language) for name, value in params.items()})


def ngettext(language: str, singular: str, plural: str, count: int) -> str:
    """Plural-aware translation; ``{count}`` in the text is filled in."""
    text = translations_for(normalise_language(language)).ngettext(singular, plural, count)
    return text.format(count=count)


@functools.lru_cache(maxsize=16)
def babel_locale(language: str) -> Locale:
    """The Babel locale used for dates and numbers in ``language``."""
    return Locale.parse("ur_PK" if normalise_language(language) == "ur" else "en_PK")


def text_direction(language: str) -> str:
    """``rtl`` for Urdu, ``ltr`` otherwise."""
    return "rtl" if normalise_language(language) in RTL_LANGUAGES else "ltr"


@functools.lru_cache(maxsize=4096)
def rupees(paisa: int, language: str) -> str:
    """An amount held in paisa, shown in rupees: ``Rs 1,000`` / ``1,000 روپے``."""
    amount = format_decimal(paisa / 100, format="#,##0.##", locale=babel_locale(language))
    return translate(language, N_("Rs {amount}"), {"amount": amount})
