"""My tasks (``/tasks/``): what the signed-in member of staff has to do, and their reminder preference.

The list is ``metrics.my_tasks.tasks_for`` for the signed-in user only: there is no way to ask for
another person's. The preference form saves through ``lsis.core.profiles.staff_profile_update``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from lsis.core.models import ReminderFrequency, StaffProfile
from lsis.core.profiles import TEAM_MAX_LENGTH, staff_profile_update
from metrics.my_tasks import tasks_for


class PreferencesForm(forms.Form):
    """How often I want reminders, and my team."""

    reminder_frequency = forms.ChoiceField(
        label="How often do you want reminders?",
        choices=ReminderFrequency.choices,
        error_messages={
            "required": "Choose how often you want reminders",
            "invalid_choice": "Choose how often you want reminders: never, daily or weekly",
        },
    )
    team = forms.CharField(
        label="Your team",
        required=False,
        max_length=TEAM_MAX_LENGTH,
        error_messages={"max_length": f"Team must be {TEAM_MAX_LENGTH} characters or fewer"},
    )


def _staff(request: HttpRequest) -> None:
    user = request.user
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("My tasks are for members of staff.")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def tasks(request: HttpRequest) -> HttpResponse:
    """The signed-in member of staff's tasks, with the form to set their reminder preference and team."""
    _staff(request)
    user: Any = request.user
    profile = StaffProfile.objects.filter(user=user).first()
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                staff_profile_update(
                    user=user,
                    team=form.cleaned_data["team"],
                    reminder_frequency=form.cleaned_data["reminder_frequency"],
                )
            except ValidationError as refusal:
                for name, messages in refusal.message_dict.items():
                    form.add_error(name if name in form.fields else None, messages)
            else:
                return HttpResponseRedirect(reverse("dashboards:tasks") + "?saved=1#preferences")
    else:
        form = PreferencesForm(
            initial={
                "reminder_frequency": profile.reminder_frequency if profile else ReminderFrequency.DAILY,
                "team": profile.team if profile else "",
            }
        )
    task_list = tasks_for(user=user, today=timezone.localdate())
    context = {
        "page": "tasks",
        "tasks": task_list,
        "form": form,
        "frequency_options": [
            (value, label, str(form["reminder_frequency"].value() or "") == value)
            for value, label in ReminderFrequency.choices
        ],
        "saved": request.method == "GET" and request.GET.get("saved") == "1",
    }
    return render(request, "dashboards/tasks.html", context, status=400 if form.errors else 200)
