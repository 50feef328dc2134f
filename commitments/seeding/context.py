"""What the loaders of one seed run share: the records read so far, the errors found and the report.

A run reads every fixture file, checks it (every name resolves, every quote occurs in its document, every
amount can be read) and writes it in one transaction: either everything loads or nothing does, and the
errors are listed by file and record (``SeedError``). The lookups here are those of the records this app
owns, through which the loaders of the apps above resolve the names their files give.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from commitments.models import Commitment, Document, Organisation
from commitments.seeding.history import CORRECTION_REASON, SEED_REASON
from commitments.sources import quote_occurs_in


class SeedError(Exception):
    """The fixtures do not load; ``errors`` lists every problem found, each with its place."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the fixtures:\n" + "\n".join(f"  - {e}" for e in errors))
        self.errors = errors


@dataclass
class SeedReport:
    """What a seed run created and what it found already present, per kind of record."""

    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)
    # With corrections applied: one line per record corrected, and per record left alone because staff edited it.
    corrected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per kind of record, then each correction made and each skipped, for the command's output."""
        kinds = sorted(set(self.created) | set(self.existing))
        lines = [f"{kind}: {self.created[kind]} created, {self.existing[kind]} already present" for kind in kinds]
        lines += [f"corrected: {line}" for line in self.corrected]
        lines += [f"skipped (edited since it was seeded): {line}" for line in self.skipped]
        return lines


@dataclass
class SeedContext:
    """Lookups shared by the loading steps, and the errors they find."""

    fixtures_dir: Path
    report: SeedReport = field(default_factory=SeedReport)
    apply_corrections: bool = False
    errors: list[str] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    commitments: dict[str, Commitment] = field(default_factory=dict)
    # Commitments given an approved update from a document: their delivery state and spans are brought up to
    # date once everything has loaded.
    updated: set[int] = field(default_factory=set)

    def error(self, place: str, message: str) -> None:
        """Note a problem found at ``place``; the run fails once every file has been read."""
        self.errors.append(f"{place}: {message}")

    def document(self, code: str | None, place: str) -> Document | None:
        """The document of that code, or None and an error."""
        document = self.documents.get(code or "")
        if document is None:
            self.error(place, f"unknown document code {code!r}")
        return document

    def check_quote(self, quote: str | None, document: Document | None, place: str) -> str:
        """The quote, stripped; an error unless it occurs in the document's text."""
        text = (quote or "").strip()
        if not text:
            self.error(place, "no source quote")
        elif document is not None:
            if not document.source_file:
                self.error(place, f"{document.code} has no source file to quote from")
            elif not quote_occurs_in(text, document.source_file):
                self.error(place, f"quote not found in {document.source_file}: “{text[:80]}”")
        return text

    def organisation(self, name: str | None, place: str) -> Organisation | None:
        """The organisation printed as ``name`` (any spelling, any case), or None and an error."""
        if not name:
            return None
        organisation = self.organisations.get(name.casefold())
        if organisation is None:
            self.error(
                place, f"unknown organisation “{name}” (add it, or the spelling as an alias, to organisations.yaml)"
            )
        return organisation

    def record(self, kind: str, created: bool) -> None:
        """Count a record of ``kind`` as created, or as already present."""
        (self.report.created if created else self.report.existing)[kind] += 1

    def new_reason(self, label: str) -> str:
        """The history reason of a record created now: seeded, or (correcting) added by a correction."""
        if not self.apply_corrections:
            return SEED_REASON
        self.report.corrected.append(f"{label}: added")
        return f"{CORRECTION_REASON}: added {label}"


def read_fixture(path: Path) -> dict[str, Any]:
    """A fixture file's content (empty if the file is)."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return data or {}
