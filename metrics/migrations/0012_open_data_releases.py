"""Open-data releases of signed-off quarters: versions and their files, never changed once published."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0011_quarterly_updates_and_milestones"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Release",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "version",
                    models.PositiveIntegerField(help_text="1 for the release at sign-off; each restatement adds one."),
                ),
                ("published_at", models.DateTimeField()),
                (
                    "note",
                    models.TextField(
                        blank=True, help_text="Why this version restates the one before; empty for the first."
                    ),
                ),
                (
                    "content_sha256",
                    models.CharField(
                        help_text="Digest of the data the files hold (not the version's own stamp): the same data is not published twice.",
                        max_length=64,
                    ),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "quarter",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="releases",
                        to="metrics.reportingquarter",
                    ),
                ),
            ],
            options={
                "ordering": ["quarter__year", "quarter__number", "version"],
                "permissions": [("publish_release", "Can publish a restatement of a quarter's open-data release")],
            },
        ),
        migrations.CreateModel(
            name="ReleaseFile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("media_type", models.CharField(max_length=100)),
                ("content", models.BinaryField()),
                ("sha256", models.CharField(max_length=64)),
                ("size", models.PositiveIntegerField(help_text="Bytes.")),
                ("position", models.PositiveSmallIntegerField(default=0)),
                (
                    "release",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="files", to="metrics.release"
                    ),
                ),
            ],
            options={
                "ordering": ["release", "position"],
            },
        ),
        migrations.AddConstraint(
            model_name="release",
            constraint=models.UniqueConstraint(fields=("quarter", "version"), name="release_quarter_version_unique"),
        ),
        migrations.AddConstraint(
            model_name="release",
            constraint=models.CheckConstraint(condition=models.Q(("version__gte", 1)), name="release_version_from_1"),
        ),
        migrations.AddConstraint(
            model_name="releasefile",
            constraint=models.UniqueConstraint(fields=("release", "name"), name="release_file_name_unique"),
        ),
    ]
