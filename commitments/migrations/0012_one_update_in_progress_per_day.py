"""At most one update in progress (draft, submitted or returned) per commitment and day, in the database too.

Validation has refused a second one since the workflow began, so a database that followed it has none.
Were any there, the migration stops and names them: which to keep is a person's decision, never the
migration's.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count

IN_PROGRESS = ("draft", "submitted", "returned")


def refuse_duplicates(apps, schema_editor):
    StatusUpdate = apps.get_model("commitments", "StatusUpdate")
    duplicates = (
        StatusUpdate.objects.filter(state__in=IN_PROGRESS)
        .values("commitment__reference", "as_of")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    if duplicates:
        listed = "; ".join(f"{row['commitment__reference']} as of {row['as_of']}" for row in duplicates[:20])
        raise RuntimeError(
            "Some commitments have more than one update in progress for the same day. Finish or delete the "
            f"extra ones in the admin, then migrate again: {listed}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0011_roles_for_theme_classification"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(refuse_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="statusupdate",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", IN_PROGRESS)),
                fields=("commitment", "as_of"),
                name="status_update_one_in_progress_per_day",
                violation_error_message="This commitment already has an update in progress as of this date.",
            ),
        ),
    ]
