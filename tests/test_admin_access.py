"""Who may do what in the admin: every view, every role, and the holes that were closed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from knox.models import AuthToken

from commitments import roles

pytestmark = pytest.mark.django_db

# --- token expiry ---------------------------------------------------------------------------------------


def test_the_admin_refuses_a_token_that_outlives_the_maximum(client_for, user_with_role):
    partner = user_with_role(roles.PARTNER)
    response = client_for(None).post(reverse("admin:knox_authtoken_add"), {"user": partner.pk, "expires_days": 3000000})
    assert response.status_code == 200
    assert "3650" in str(response.context["adminform"].form.errors["expires_days"])
    assert not AuthToken.objects.filter(user=partner).exists()


@pytest.mark.parametrize("days", ["3651", "3000000", "100000000000", "-1"])
def test_issue_token_refuses_an_expiry_beyond_the_maximum(user_with_role, days):
    user = user_with_role(roles.PARTNER, username="acme")
    with pytest.raises(CommandError, match="3650"):
        call_command("issue_token", "acme", "--expires-days", days, stdout=StringIO(), stderr=StringIO())
    assert not AuthToken.objects.filter(user=user).exists()


def test_the_longest_allowed_token_is_issued(user_with_role):
    user = user_with_role(roles.PARTNER, username="acme")
    call_command("issue_token", "acme", "--expires-days", "3650", stdout=StringIO(), stderr=StringIO())
    assert AuthToken.objects.get(user=user).expiry is not None
