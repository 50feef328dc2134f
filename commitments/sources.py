"""Source documents: where every seeded record's verbatim quote comes from.

The seed files are text extracted from PDFs and web pages. The extraction left
bullet markers (a doubled backtick), stray combining grave accents on the first
letter of bullets, and hard line breaks inside sentences. ``normalise`` removes
those artefacts the same way for a document and for a quote, so a quote can be
checked against its document without depending on where the lines broke.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

SOURCES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "sources"

_COMBINING_GRAVE = "\u0300"
_BULLET_MARKER = "``"
_WHITESPACE = re.compile(r"\s+")
# A line that ended in a hyphen or slash continued a word or compound ("world-\nleading").
_BROKEN_AT_JOINER = re.compile(r"(?<=\S)([-/]) (?=\S)")
# Web-page text carries mis-decoded non-breaking spaces.
_MOJIBAKE_NBSP = "\u00ac\u2020"


def normalise(text: str) -> str:
    """Return ``text`` with extraction artefacts removed and whitespace folded."""
    decomposed = unicodedata.normalize("NFD", text)
    cleaned = decomposed.replace(_COMBINING_GRAVE, "").replace(_BULLET_MARKER, " ")
    cleaned = cleaned.replace(_MOJIBAKE_NBSP, " ").replace("\u00a0", " ")
    folded = _WHITESPACE.sub(" ", cleaned).strip()
    return unicodedata.normalize("NFC", _BROKEN_AT_JOINER.sub(r"\1", folded))


@cache
def normalised_source(file_name: str) -> str:
    """Return the normalised full text of the seed file ``file_name``."""
    path = SOURCES_DIR / file_name
    return normalise(path.read_text(encoding="utf-8"))


def quote_occurs_in(quote: str, file_name: str) -> bool:
    """Tell whether ``quote`` occurs verbatim (after normalisation) in ``file_name``."""
    needle = normalise(quote)
    return bool(needle) and needle in normalised_source(file_name)
