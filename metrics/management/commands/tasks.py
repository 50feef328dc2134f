"""``python manage.py tasks USERNAME [--date YYYY-MM-DD]``: one person's task list, as /tasks/ shows it."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from metrics.my_tasks import tasks_for


class Command(BaseCommand):
    help = "Print a member of staff's tasks: updates due, milestones, drafts, returned updates, reviews, decisions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="Whose tasks to list.")
        parser.add_argument("--date", default=None, help="The day to list them on, YYYY-MM-DD (default: today).")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist:
            raise CommandError(f"No user is called “{options['username']}”.") from None
        if not user.is_staff:
            raise CommandError(f"{options['username']} is not a member of staff, so has no tasks.")
        try:
            today = date.fromisoformat(options["date"]) if options["date"] else timezone.localdate()
        except ValueError:
            raise CommandError(f"--date must be a date written YYYY-MM-DD, not “{options['date']}”.") from None
        task_list = tasks_for(user=user, today=today)
        name = user.get_full_name() or user.get_username()
        self.stdout.write(f"Tasks of {name} on {today:%-d %B %Y}: {task_list.total} ({task_list.overdue} overdue)")
        self.stdout.write(f"Updates for {task_list.cycle.quarter.label} are due by {task_list.cycle.due_on:%-d %B %Y}.")
        for section in task_list.sections:
            self.stdout.write("")
            self.stdout.write(self.style.MIGRATE_HEADING(f"{section.title} ({section.count})"))
            if not section.tasks:
                self.stdout.write(f"  {section.empty}")
            for task in section.tasks:
                when = ""
                if task.due_on is not None:
                    when = f", due {task.due_on:%-d %B %Y}"
                    if task.days_overdue:
                        when += f", {task.days_overdue} day{'s' if task.days_overdue != 1 else ''} overdue"
                elif task.age_days is not None:
                    when = f", waiting {task.age_days} day{'s' if task.age_days != 1 else ''}"
                role = " (you contribute)" if task.contributor else ""
                self.stdout.write(f"  [{task.tag}] {task.reference}{role}: {task.title}{when}")
                if task.note:
                    self.stdout.write(f"      Reason: {' '.join(task.note.split())}")
                self.stdout.write(f"      {task.action}: {task.url}")
