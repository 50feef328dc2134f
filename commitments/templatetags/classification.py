"""The tracker's theme classification of a commitment, for its page."""

from __future__ import annotations

from typing import Any

from django import template

from commitments.classification import classification_of
from commitments.models import Commitment

register = template.Library()


@register.simple_tag
def theme_classification(commitment: Commitment) -> list[dict[str, Any]]:
    """The themes the commitment is classified under, by framework, each with why.

    The themes are those stored on the commitment (what the figures count); the reason is the rule or
    exception that gives it, or, for a theme set on the commitment by hand, says so.
    """
    reasons = {item.theme.pk: item.reason for item in classification_of(commitment)}
    frameworks: dict[str, dict[str, Any]] = {}
    for theme in sorted(commitment.themes.all(), key=lambda theme: (theme.framework.code, theme.position)):
        group = frameworks.setdefault(theme.framework.code, {"framework": theme.framework, "themes": []})
        group["themes"].append({"theme": theme, "reason": reasons.get(theme.pk, "Set on the commitment by hand.")})
    return list(frameworks.values())
