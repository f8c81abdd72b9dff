"""Finding a service: words matched in English and Urdu alike, titles ranked first."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from darwaza.catalogue.schema import AgencyDefinition, ServiceDefinition
from darwaza.numbers import ascii_digits

Vocabulary = list[tuple[int, frozenset[str]]]
"""The words of one service by weight: title, keywords and agency, description."""

_TITLE_WEIGHT: Final = 4
_KEYWORD_WEIGHT: Final = 2
_DESCRIPTION_WEIGHT: Final = 1

# Letters Urdu text is typed with in more than one way: Arabic yeh and kaf from Arabic
# keyboards, and heh for heh goal.
_URDU_VARIANTS: Final = str.maketrans(
    {"ي": "ی", "ى": "ی", "ك": "ک", "ه": "ہ", "ۃ": "ہ", "\u0640": None, "\u200c": None}
)
_WORD: Final = re.compile(r"\w+")
_STOP_WORDS: Final = frozenset(
    {"a", "an", "and", "the", "of", "for", "to", "in", "on", "my", "i", "me"}
    | {"کی", "کا", "کے", "کو", "میں", "اور", "سے", "نے", "پر", "ہے"}
)


def search_words(text: str) -> list[str]:
    """The words of ``text`` in the form search compares: case, accents, Urdu
    diacritics and spelling variants folded away, digits in ASCII."""
    decomposed = unicodedata.normalize("NFKD", ascii_digits(text))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _WORD.findall(bare.translate(_URDU_VARIANTS).casefold())


def query_words(query: str) -> list[str]:
    words = list(dict.fromkeys(search_words(query)))
    meaningful = [word for word in words if word not in _STOP_WORDS]
    return meaningful or words


def match_score(index: Vocabulary, words: list[str]) -> int | None:
    score = 0
    for word in words:
        best = max(
            (
                weight
                for weight, vocabulary in index
                if any(known.startswith(word) for known in vocabulary)
            ),
            default=0,
        )
        if not best:
            return None
        score += best
    return score


def service_vocabulary(service: ServiceDefinition, agency: AgencyDefinition | None) -> Vocabulary:
    """Every word a citizen might find ``service`` by, with the weight of where it stands."""
    weighted: list[tuple[int, list[str]]] = [
        (_TITLE_WEIGHT, [service.title.en, service.title.ur]),
        (_KEYWORD_WEIGHT, [*service.keywords.en, *service.keywords.ur]),
        (_KEYWORD_WEIGHT, [service.id.replace("-", " ")]),
        (_DESCRIPTION_WEIGHT, [service.description.en, service.description.ur]),
        (_DESCRIPTION_WEIGHT, [service.eligibility.en, service.eligibility.ur]),
    ]
    if agency is not None:
        names = [agency.id, agency.name.en, agency.name.ur, agency.short_name.en]
        weighted.append((_KEYWORD_WEIGHT, [*names, agency.short_name.ur]))
    return [
        (weight, frozenset(word for text in texts for word in search_words(text)))
        for weight, texts in weighted
    ]
