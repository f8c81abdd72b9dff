"""Every piece of text marked for translation has an Urdu translation.

The messages are extracted from the source tree exactly as ``babel.cfg`` says (templates
and Python), then checked against ``darwaza/translations/ur/LC_MESSAGES/messages.po``.
When a test here fails after you add or change text, run ``make messages`` and translate
the entries it lists in that file (no entry may stay empty or fuzzy).
"""

from __future__ import annotations

import string
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from darwaza.i18n import translate, translations_for

ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = ROOT / "babel.cfg"
URDU_PO = ROOT / "darwaza" / "translations" / "ur" / "LC_MESSAGES" / "messages.po"

# Babel's defaults already hold ``_``, ``gettext`` and ``N_``. ``darwaza.i18n.ngettext``
# takes the language first, so its singular and plural are its 2nd and 3rd arguments.
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "ngettext": (2, 3)}

Msgid = str | tuple[str, ...]


@cache
def extracted() -> dict[Msgid, list[str]]:
    """Each msgid found in the source tree, with the places (``file:line``) it is used."""
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(BABEL_CFG))
    found: dict[Msgid, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


@cache
def urdu_catalog() -> Catalog:
    with URDU_PO.open("rb") as po_file:
        return read_po(po_file, locale="ur")


def _strings(value: Msgid) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _placeholders(text: str) -> Counter[str]:
    """The ``{name}`` placeholders of ``text``, each with how often it appears."""
    return Counter(
        name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None
    )


def _is_arabic_script(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all("ARABIC" in unicodedata.name(ch, "") for ch in letters)


def test_the_source_tree_has_messages_from_templates_and_python() -> None:
    places = [place for used_at in extracted().values() for place in used_at]
    assert any(".html:" in place for place in places), "no message found in the templates"
    assert any(".py:" in place for place in places), "no message found in the Python code"
    assert "Sign in" in extracted()


def test_the_catalogue_header_declares_urdu_plurals_and_utf8() -> None:
    catalog = urdu_catalog()
    assert catalog.locale is not None and str(catalog.locale) == "ur"
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"
    assert catalog.charset.lower() == "utf-8"
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"


def test_every_message_has_an_urdu_translation() -> None:
    catalog = urdu_catalog()
    missing = []
    for msgid, used_at in sorted(extracted().items(), key=lambda item: str(item[0])):
        entry = catalog.get(msgid)
        strings = () if entry is None else _strings(entry.string)
        if entry is None or entry.fuzzy or not strings or not all(s.strip() for s in strings):
            state = "missing" if entry is None else "fuzzy" if entry.fuzzy else "untranslated"
            missing.append(f"  {msgid!r} ({state}; used at {', '.join(used_at)})")
    assert not missing, (
        f"{len(missing)} message(s) have no Urdu translation. Run `make messages`, then "
        f"translate them in {URDU_PO.relative_to(ROOT)}:\n" + "\n".join(missing)
    )


def test_no_entry_in_the_catalogue_is_fuzzy_or_empty() -> None:
    bad = [
        repr(message.id)
        for message in urdu_catalog()
        if message.id
        and (message.fuzzy or not all(s.strip() for s in _strings(message.string) or ("",)))
    ]
    assert not bad, "fuzzy or empty entries in the Urdu catalogue:\n  " + "\n  ".join(bad)


def test_every_translation_keeps_the_placeholders_of_its_msgid() -> None:
    wrong = []
    for message in urdu_catalog():
        if not message.id:
            continue
        sources = _strings(message.id)
        for form, translation in enumerate(_strings(message.string)):
            # A plural's first form may follow either the singular or the plural msgid.
            allowed = [_placeholders(sources[-1])]
            if form == 0:
                allowed.append(_placeholders(sources[0]))
            if translation and _placeholders(translation) not in allowed:
                wrong.append(
                    f"  {message.id!r}: expects {sorted(allowed[0].elements())}, "
                    f"has {sorted(_placeholders(translation).elements())}"
                )
    assert not wrong, "translations whose {placeholders} differ from the msgid:\n" + "\n".join(
        wrong
    )


def test_every_translation_can_be_filled_in() -> None:
    for message in urdu_catalog():
        for translation in _strings(message.string) if message.id else ():
            values = {name: "x" for name in _placeholders(translation)}
            try:
                translation.format(**values)
            except (ValueError, IndexError, KeyError) as error:
                pytest.fail(f"{message.id!r} has a broken translation {translation!r}: {error}")


def test_urdu_is_compiled_in_memory_and_served() -> None:
    translations_for.cache_clear()
    urdu = translate("ur", "Sign in")
    assert urdu == urdu_catalog()["Sign in"].string
    assert urdu != "Sign in"
    assert _is_arabic_script(urdu), f"{urdu!r} is not written in Arabic script"
    assert translate("en", "Sign in") == "Sign in"
    assert translate("ur", "Rs {amount}", {"amount": "1,000"}) == "1,000 روپے"
