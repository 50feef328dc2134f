"""factory-boy factories for records that tests create on top of the seeded data."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from commitments import search
from commitments.models import Actor, Commitment, Document, Theme, ThemeKind


# Typed by the model they make: ``UserFactory.create(...)`` is a User, where calling the class is not.
class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@ols.example.gov.uk")
    password = factory.django.Password("correct horse battery staple")


class CommitmentFactory(factory.django.DjangoModelFactory[Commitment]):
    """A commitment in Sector Deal 2's Ideas foundation, citing Sector Deal 2."""

    class Meta:
        model = Commitment

    reference = factory.Sequence(lambda n: f"TEST-{n}")
    deal = factory.LazyFunction(lambda: Document.objects.get(code="SD2"))
    source_document = factory.LazyFunction(lambda: Document.objects.get(code="SD2"))
    foundation = factory.LazyFunction(lambda: Theme.objects.get(kind=ThemeKind.FOUNDATION, code="IDEAS"))
    actor = Actor.GOVERNMENT
    text = "A test commitment."
    source_quote = "Committing to sequence at least one million whole genomes within five years"

    @classmethod
    def _create(cls, model_class: type[Commitment], *args: Any, **kwargs: Any) -> Commitment:
        """Saved directly, not through ``commitment_create``: its search document is built as the service builds it."""
        commitment = super()._create(model_class, *args, **kwargs)
        search.documents_refresh(commitment_ids=[commitment.pk])
        return commitment
