"""Search over commitments: the one rule the dashboards' search page and the API's ``?search=`` both use.

What is searched is a commitment's **search document**: its reference (weight A, counting most), its text
(B), the names of its foundation, area and themes, of the organisations taking part (with every alias the
documents print) and of the programmes delivering it (C), and the lead-in sentence it completes (D).

The query is written as on a web search engine (PostgreSQL's ``websearch_to_tsquery``): words must all
occur, ``"a quoted phrase"`` must occur as written, ``-word`` or ``-"a phrase"`` must not, and ``or``
between words offers alternatives. A word joined by hyphens (a reference such as ``SD2-IDEAS``, or
``world-leading``) is read as the phrase of its parts, so that the start of a reference finds every
commitment under it.

- On PostgreSQL the document is stored on the commitment (``Commitment.search_vector``, a ``tsvector``
  under a GIN index made by migration 0013), matched with ``@@``, ranked with ``ts_rank`` and quoted with
  ``ts_headline``. It names related records, so it cannot be a generated column: every service that
  changes what it holds calls ``documents_refresh`` in its transaction, one ``UPDATE`` for all the
  commitments concerned; the seed, the synthetic data and ``manage.py search_refresh`` refresh all.
- On SQLite (the embedded default) the column stays empty; the same parsed query is matched with
  ``icontains`` over the same fields, ranked by where the words occur (reference, then text, then the
  rest), and the excerpt is cut in Python. Words are matched as written there, without stemming.

Which commitments a user may find is not decided here: callers pass the commitments the user may see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, F, FloatField, Func, OuterRef, Q, QuerySet, Subquery, TextField, Value, When
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Concat

from commitments.models import Commitment

#: The text search configuration: English stemming, so that "genomes" finds "genomic" too.
CONFIG = "english"
#: The longest query taken (the page and the API refuse longer ones).
MAX_QUERY_LENGTH = 200

# The commitment's own text in its document: the reference (weight A), the text (B), the lead-in (D).
_OWN = ("reference", "text", "lead_in")
# The names it is found by (weight C), through the commitment's relations. Programmes belong to the app above
# this one, which is not imported: its relation is read by name, as the spreadsheet resource reads money.
NAMES = (
    "foundation__name",
    "area__name",
    "themes__name",
    "involvements__organisation__name",
    "involvements__organisation__aliases__name",
    "programmes__name",
    "programmes__short_name",
)

# What ts_headline puts around a matched word: characters of Unicode's private use area, which no
# commitment's printed text holds, split out again by ``excerpt`` so that the page escapes every part.
_MARK_START = "\ue000"
_MARK_END = "\ue001"
# An excerpt: about this many words (PostgreSQL), or characters either side of the first match (SQLite).
_HEADLINE_WORDS = (20, 40)
_EXCERPT_CHARACTERS = 120


# --- the query ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One word or quoted phrase of a query, as typed, and whether it is excluded (``-word``)."""

    words: str
    phrase: bool
    excluded: bool

    def as_websearch(self) -> str:
        """The term in websearch syntax, a hyphen-joined word as the phrase of its parts."""
        words = _HYPHEN.sub(" ", self.words) if _HYPHEN_BEFORE_LETTER.search(self.words) else self.words
        quoted = f'"{words}"' if self.phrase or words != self.words else words
        return f"-{quoted}" if self.excluded else quoted


# Words joined by hyphens are read as the phrase of their parts where a hyphen comes before a letter
# ("SD2-IDEAS", "TEST-PAGED-00", "world-leading"); "COVID-19" or "SYN-000042" stay as typed, since
# PostgreSQL's parser reads the hyphen and digits as a signed number there, in the text as in the query.
_HYPHEN_BEFORE_LETTER = re.compile(r"(?<=\w)-(?=[^\W\d_])")
_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")


@dataclass(frozen=True)
class ParsedQuery:
    """A query read as ``websearch_to_tsquery`` reads it: any one of ``alternatives``, each all of its terms."""

    text: str
    alternatives: tuple[tuple[Term, ...], ...]

    @property
    def is_empty(self) -> bool:
        """Whether the query holds nothing to look for (no words, or only excluded ones)."""
        return not any(not term.excluded for group in self.alternatives for term in group)

    @property
    def wanted(self) -> list[str]:
        """The words and phrases to find (not the excluded ones), longest first: what an excerpt marks."""
        found = {term.words for group in self.alternatives for term in group if not term.excluded}
        return sorted(found, key=lambda words: (-len(words), words))

    def as_websearch(self) -> str:
        """The query written back in websearch syntax, hyphen-joined words as phrases."""
        return " or ".join(" ".join(term.as_websearch() for term in group) for group in self.alternatives)


def parse(text: str) -> ParsedQuery:
    """Read a query as ``websearch_to_tsquery`` does: words, ``"phrases"``, ``-exclusions`` and ``or``.

    An unclosed quote runs to the end; a lone ``-`` or empty quotes are ignored, as is an ``or`` with
    nothing on one side.
    """
    groups: list[list[Term]] = [[]]
    position, length = 0, len(text)
    while position < length:
        if text[position].isspace():
            position += 1
            continue
        excluded = text[position] == "-" and position + 1 < length and not text[position + 1].isspace()
        if excluded:
            position += 1
        if text[position] == '"':
            end = text.find('"', position + 1)
            end = length if end == -1 else end
            words, phrase, position = text[position + 1 : end].strip(), True, end + 1
        else:
            end = position
            while end < length and not text[end].isspace() and text[end] != '"':
                end += 1
            words, phrase, position = text[position:end], False, end
        if not phrase and not excluded and words.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        if words.strip("-"):
            groups[-1].append(Term(words=words.strip() if phrase else words, phrase=phrase, excluded=excluded))
    return ParsedQuery(text=text, alternatives=tuple(tuple(group) for group in groups if group))


def _read(query: ParsedQuery | str) -> ParsedQuery:
    return query if isinstance(query, ParsedQuery) else parse(query)


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _tsquery(query: ParsedQuery) -> SearchQuery:
    return SearchQuery(query.as_websearch(), config=CONFIG, search_type="websearch")


# --- matching and ranking -------------------------------------------------------------------------------


def _fallback_condition(term: Term) -> Q:
    """Commitments holding ``term`` (as typed, any case) in their own text or any name they are found by."""
    own = Q()
    for field in _OWN:
        own |= Q(**{f"{field}__icontains": term.words})
    named = Q()
    for path in NAMES:
        named |= Q(**{f"{path}__icontains": term.words})
    # The names sit across many-valued relations: looked up apart, so that the outer query gains no rows.
    return own | Q(pk__in=Commitment.objects.filter(named).values("pk"))


def _fallback_matching(commitments: QuerySet[Commitment], query: ParsedQuery) -> QuerySet[Commitment]:
    condition = Q(pk__in=[])
    for group in query.alternatives:
        every = Q()
        for term in group:
            every &= ~_fallback_condition(term) if term.excluded else _fallback_condition(term)
        condition |= every
    return commitments.filter(condition)


def matching(commitments: QuerySet[Commitment], query: ParsedQuery | str) -> QuerySet[Commitment]:
    """The commitments among ``commitments`` that ``query`` finds; in their order, no annotation added.

    An empty query finds nothing.
    """
    parsed = _read(query)
    if parsed.is_empty:
        return commitments.none()
    if _on_postgresql():
        return commitments.filter(search_vector=_tsquery(parsed))
    return _fallback_matching(commitments, parsed)


def ranked(
    commitments: QuerySet[Commitment], query: ParsedQuery | str, *, among: int | None = None
) -> QuerySet[Commitment]:
    """``matching``, best first, annotated with ``search_rank`` and (PostgreSQL) ``search_headline``.

    PostgreSQL ranks with ``ts_rank`` over the weighted document, and cuts the headline from the text
    of the rows returned only (after the sort and the page's limit). SQLite ranks a match in the
    reference above one in the text, above one elsewhere. Ties go by reference.

    With ``among``, only the first ``among`` matches found are ranked (in the index's order, not by
    rank): for a word in nearly every commitment, ranking every match means reading the whole table,
    and a reader who is told so narrows the search rather than reading a thousand results.
    """
    parsed = _read(query)
    found = matching(commitments, parsed)
    if parsed.is_empty:
        return found
    if among is not None:
        found = commitments.filter(pk__in=found.order_by().values("pk")[:among])
    if _on_postgresql():
        tsquery = _tsquery(parsed)
        found = found.annotate(
            search_rank=SearchRank(F("search_vector"), tsquery),
            search_headline=SearchHeadline(
                "text",
                tsquery,
                config=CONFIG,
                start_sel=_MARK_START,
                stop_sel=_MARK_END,
                min_words=_HEADLINE_WORDS[0],
                max_words=_HEADLINE_WORDS[1],
            ),
        )
    else:
        score: Any = Value(0.0)
        for words in parsed.wanted:
            score += Case(
                When(reference__icontains=words, then=Value(1.0)),
                When(text__icontains=words, then=Value(0.4)),
                default=Value(0.2),
                output_field=FloatField(),
            )
        found = found.annotate(search_rank=score)
    return found.order_by("-search_rank", "reference")


# --- the excerpt shown for a result ---------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A piece of an excerpt; ``marked`` where it is a word the query found. Templates escape ``text``."""

    text: str
    marked: bool = False


def _parts_of_headline(headline: str) -> list[Part]:
    parts = []
    for index, piece in enumerate(headline.split(_MARK_START)):
        marked, _, rest = piece.partition(_MARK_END) if index else ("", "", piece)
        if marked:
            parts.append(Part(marked, marked=True))
        if rest:
            parts.append(Part(rest))
    return parts


def _parts_of_text(text: str, query: ParsedQuery) -> list[Part]:
    """An excerpt of ``text`` around the first word the query finds there, every such word marked."""
    wanted = query.wanted
    pattern = re.compile("|".join(re.escape(words) for words in wanted), re.IGNORECASE) if wanted else None
    start, end = 0, len(text)
    if end > 2 * _EXCERPT_CHARACTERS:
        first = pattern.search(text) if pattern else None
        start = max(0, (first.start() if first else 0) - _EXCERPT_CHARACTERS)
        end = min(len(text), start + 2 * _EXCERPT_CHARACTERS)
        # Cut at spaces, not inside a word.
        if start > 0 and " " in text[start:end]:
            start = text.index(" ", start) + 1
        if end < len(text) and text.rfind(" ", start, end) > start:
            end = text.rfind(" ", start, end)
    excerpt = text[start:end]
    parts = [Part("… ")] if start > 0 else []
    position = 0
    for match in pattern.finditer(excerpt) if pattern else ():
        if match.start() > position:
            parts.append(Part(excerpt[position : match.start()]))
        parts.append(Part(match.group(), marked=True))
        position = match.end()
    if position < len(excerpt):
        parts.append(Part(excerpt[position:]))
    if end < len(text):
        parts.append(Part(" …"))
    return parts


def excerpt(commitment: Commitment, query: ParsedQuery | str) -> list[Part]:
    """The part of a found commitment's text to show, with the words the query found marked.

    From ``ranked``'s ``search_headline`` where PostgreSQL made one; otherwise cut from the text here.
    Returned as plain parts, never as HTML: the template escapes each and marks the found ones.
    """
    headline = getattr(commitment, "search_headline", None)
    if headline is not None:
        return _parts_of_headline(headline)
    return _parts_of_text(commitment.text, _read(query))


# --- the stored document (PostgreSQL) -------------------------------------------------------------------


def _names() -> Subquery:
    """Every name a commitment is found by, one text: a correlated subquery, so that ``UPDATE`` can use it."""
    aggregates = [StringAgg(path, delimiter=" ", distinct=True, default=Value("")) for path in NAMES]
    joined: list[Any] = []
    for aggregate in aggregates:
        joined += [aggregate, Value(" ")]
    return Subquery(
        Commitment.objects.filter(pk=OuterRef("pk"))
        .order_by()
        .values("pk")
        .annotate(names=Concat(*joined[:-1], output_field=TextField()))
        .values("names")
    )


def document() -> CombinedExpression:
    """The weighted search document of each commitment, as an expression over its row and relations.

    The reference is there as printed and with its hyphens and dots read as spaces, so that both a
    whole reference and the start of one (``SD2-IDEAS``) find it.
    """
    reference, text, lead_in = _OWN
    reference_parts = Func(F(reference), Value("-."), Value("  "), function="translate", output_field=TextField())
    return (
        SearchVector(reference, reference_parts, config=CONFIG, weight="A")
        + SearchVector(text, config=CONFIG, weight="B")
        + SearchVector(_names(), config=CONFIG, weight="C")
        + SearchVector(lead_in, config=CONFIG, weight="D")
    )


_pending: ContextVar[set[int] | None] = ContextVar("search_documents_pending", default=None)


def documents_refresh(*, commitment_ids: Iterable[int] | None = None) -> None:
    """Rebuild the stored search document of ``commitment_ids`` (every commitment if None), in one ``UPDATE``.

    ``commitment_ids`` may be a queryset of ids, kept as a subquery. Services call this in their
    transaction after changing anything the document holds (a commitment's text, its themes,
    organisations or programmes, the name of any of those); inside ``refreshed_together`` the ids are
    gathered and refreshed once at its end. Nothing is stored on SQLite, where search reads the fields
    themselves. The commitments' version is not moved: the document is derived, and an editor's save must
    not be refused because a name it holds changed meanwhile.
    """
    if not _on_postgresql():
        return
    pending = _pending.get()
    if pending is not None and commitment_ids is not None:
        pending.update(commitment_ids)
        return
    commitments = Commitment.objects.all()
    if commitment_ids is not None:
        if not isinstance(commitment_ids, QuerySet):
            commitment_ids = sorted(set(commitment_ids))
            if not commitment_ids:
                return
        commitments = commitments.filter(pk__in=commitment_ids)
    commitments.update(search_vector=document())


@contextmanager
def refreshed_together() -> Iterator[None]:
    """Gather the refreshes asked for inside, and make them in one ``UPDATE`` at the end.

    For writes that go through a service commitment by commitment (a classification rule reclassifying
    many): one statement for all of them instead of one each. Nested uses refresh at the outermost end.
    """
    if _pending.get() is not None:
        yield
        return
    token = _pending.set(set())
    try:
        yield
        gathered = _pending.get() or set()
    finally:
        _pending.reset(token)
    if gathered:
        documents_refresh(commitment_ids=gathered)
