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
# Builds a throwaway database of labelled synthetic data for scale tests, where history means nothing.
EXEMPT = {"metrics/synthetic.py"}
# QuerySet methods that write rows without saving each model, so without history or version checks.
BULK_WRITES = {"update", "bulk_update", "bulk_create"}


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
