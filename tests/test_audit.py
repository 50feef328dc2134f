"""Nothing changes without a trace: every audited model keeps history, and no code bypasses it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

from commitments.models import (
    Commitment,
    CommitmentOrganisation,
    EvidenceLink,
    Organisation,
    OrganisationAlias,
    StatusUpdate,
)
from programmes.models import FundingAmount, Programme

AUDITED = [
    Commitment,
    CommitmentOrganisation,
    EvidenceLink,
    Organisation,
    OrganisationAlias,
    StatusUpdate,
    FundingAmount,
    Programme,
]
APPLICATION_CODE = ["commitments", "programmes", "metrics", "lsis"]
# Builds a throwaway database of labelled synthetic data for scale tests, where history means nothing; and
# rebuilds the commitments' search documents, derived from what the services wrote (kept out of the history,
# the version left alone: no one's edit).
EXEMPT = {"metrics/synthetic.py", "commitments/search.py"}
# QuerySet methods that write rows without saving each model, so without history or version checks.
BULK_WRITES = {"update", "bulk_update", "bulk_create"}
# Tests write through the services as staff would. These functions write audited rows in bulk on purpose,
# to put the data in a state no service makes; each says why here and in its docstring.
TESTS_WRITING_IN_BULK = {
    # Random histories for the rules' two sides: approved updates turned back into drafts, approvals at
    # chosen hours, commitments given any target date, section, parent and publication.
    "tests/test_rules.py::_history",
    # Empties the seeded database, to load the previous fixtures into and correct them.
    "tests/test_fixtures_corrections.py::_wipe_seeded_data",
    # The benchmark's baseline: the same drafts inserted in one statement, to measure the import against.
    "tests/bench/run.py::insert",
    # A commitment changed outside the services, as only a manual fix would, for manage.py search_refresh to mend.
    "tests/test_search.py::test_the_command_rebuilds_every_document",
    # A submission dated days back (no service submits in the past), for the reviewers' reminder of waiting ones.
    "tests/test_reminders.py::_submitted",
    # Approval and modification times set to chosen moments (no service sets a time), for UK local time in XLSX.
    "tests/api/test_exports.py::test_xlsx_datetimes_are_uk_local_time",
    # Names and an approved update's link title made hostile (formula text), to check exports quote any cell.
    "tests/api/test_exports.py::test_text_that_would_run_as_a_formula_is_quoted_in_every_kind_of_cell",
}


def _audited_names() -> set[str]:
    """Names through which code reaches audited rows: the models, and related managers onto them."""
    names = {model.__name__ for model in AUDITED}
    for model in AUDITED:
        for relation in model._meta.related_objects:
            accessor = relation.get_accessor_name()
            # A relation hidden with related_name="+" has no accessor to reach the rows through.
            if relation.related_model in AUDITED and accessor is not None:
                names.add(accessor)
    return names


@pytest.mark.parametrize("model", AUDITED, ids=lambda model: model.__name__)
def test_audited_models_keep_history(model):
    assert hasattr(model, "history"), f"{model.__name__} has no django-simple-history"


def _bulk_writes(path: Path, root: Path | None = None) -> list[str]:
    """The bulk writes onto audited rows in ``path``, each as ``<path from root>:<line> .<method>()``."""
    root = Path(settings.BASE_DIR) if root is None else root
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in BULK_WRITES:
            names = {n.attr for n in ast.walk(node.func.value) if isinstance(n, ast.Attribute)}
            names |= {n.id for n in ast.walk(node.func.value) if isinstance(n, ast.Name)}
            if names & _audited_names():
                found.append(f"{path.relative_to(root)}:{node.lineno} .{node.func.attr}()")
    return found


def test_application_code_never_writes_in_bulk():
    offenders = [
        finding
        for package in APPLICATION_CODE
        for path in (Path(settings.BASE_DIR) / package).rglob("*.py")
        if "migrations" not in path.parts and str(path.relative_to(settings.BASE_DIR)) not in EXEMPT
        for finding in _bulk_writes(path)
    ]
    assert offenders == [], "bulk writes bypass the audit trail and version checks"


def _enclosing_function(path: Path, line: int) -> str:
    """The name of the innermost function of ``path`` around ``line``, or ``<module>``."""
    functions = [
        node
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    return max(functions, key=lambda node: node.lineno).name if functions else "<module>"


def _tests_writing_in_bulk(root: Path) -> set[str]:
    """``<path>::<function>`` of every place under ``root``/tests that writes audited rows in bulk."""
    found = set()
    for path in sorted((root / "tests").rglob("*.py")):
        for finding in _bulk_writes(path, root=root):
            line = int(finding.split(":")[1].split(" ")[0])
            found.add(f"{path.relative_to(root)}::{_enclosing_function(path, line)}")
    return found


def test_tests_write_in_bulk_only_where_they_say_why():
    """A test that wrote around the services would test something staff can never do."""
    found = _tests_writing_in_bulk(Path(settings.BASE_DIR))
    assert sorted(found - TESTS_WRITING_IN_BULK) == [], "write through the services, or add it here with why"
    assert sorted(TESTS_WRITING_IN_BULK - found) == [], "no longer writes in bulk: remove it from the list"


def test_the_bulk_write_check_finds_offenders(tmp_path):
    """The probe is written in the test's own folder, never into the source tree."""
    offender = tmp_path / "commitments" / "_audit_probe.py"
    offender.parent.mkdir()
    offender.write_text("from commitments.models import Commitment\nCommitment.objects.filter(pk=1).update(text='x')\n")
    assert _bulk_writes(offender, root=tmp_path) == ["commitments/_audit_probe.py:2 .update()"]
    offender.write_text("values = {}\nvalues.update(a=1)\n")
    assert _bulk_writes(offender, root=tmp_path) == []
    offender.write_text("def f(commitment):\n    commitment.updates.filter(state='draft').update(narrative='x')\n")
    assert _bulk_writes(offender, root=tmp_path) == ["commitments/_audit_probe.py:2 .update()"]


def test_the_check_of_tests_names_the_function_that_writes_in_bulk(tmp_path):
    """The probe is written in the test's own folder, never into the source tree."""
    probe = tmp_path / "tests" / "test_probe.py"
    probe.parent.mkdir()
    probe.write_text(
        "from commitments.models import Commitment\n\n"
        "def _setup():\n    Commitment.objects.update(published=False)\n\n"
        "def test_x():\n    def inner():\n        Commitment.objects.bulk_create([])\n    inner()\n"
    )
    assert _tests_writing_in_bulk(tmp_path) == {"tests/test_probe.py::_setup", "tests/test_probe.py::inner"}
