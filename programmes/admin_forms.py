"""Forms of the funding amounts' admin pages, shared by the amount's own page and the inline rows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from commitments.models import Commitment
from commitments.permissions import may_change_commitment
from programmes.models import FundingAmount


class FundingCommitmentForm(forms.ModelForm):
    """Funding is part of its commitment: it is attached only to a commitment the user may change."""

    user: Any = None  # set per request by the admin that builds the form

    def clean_commitment(self) -> Commitment | None:
        """Refuse a commitment the user may not change (a published one, for an editor)."""
        commitment: Commitment | None = self.cleaned_data.get("commitment")
        if commitment is not None and not may_change_commitment(self.user, commitment):
            raise ValidationError(
                f"You may not change {commitment.reference}: once a commitment is published, only those who may "
                "publish commitments change it or its funding.",
                code="commitment_not_changeable",
            )
        return commitment

    def clean(self) -> dict[str, Any] | None:
        """One funder or several jointly (``FundingAmount.joint_funders_refusal``), shown on the field that errs.

        A form without the joint funders (an inline row) checks the funder against those the amount has.
        """
        cleaned = super().clean()
        if "joint_funders" in self.fields:
            joint_funders, field = self.cleaned_data.get("joint_funders") or [], "joint_funders"
        else:
            joint_funders = list(self.instance.joint_funders.all()) if self.instance.pk else []
            field = "funder"
        refusal = FundingAmount.joint_funders_refusal(
            funder=self.cleaned_data.get("funder"), joint_funders=joint_funders
        )
        if refusal and field in self.fields:
            self.add_error(field, refusal)
        return cleaned


def form_for_user(form: type[forms.ModelForm], request: HttpRequest) -> type[forms.ModelForm]:
    """``form`` told who is saving it (its ``user``), as the commitment check needs."""
    return type(form.__name__, (form,), {"user": request.user})
