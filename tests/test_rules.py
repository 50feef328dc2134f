"""Each delivery rule's two sides agree: the Python that decides it for one commitment, and the ORM/SQL form.

For random histories (approved updates with random as-of dates, approval times, statuses, confidences and
progress, some without a figure; random target dates, sections, parents and publication flags), every rule
of ``metrics.rules`` is read both ways for every commitment and day, on whichever database the tests run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Commitment, Milestone, Section, StatusUpdate, UpdateState
from metrics import rules
from metrics.models import DeliverySpan
from metrics.services import spans_rebuild

pytestmark = pytest.mark.django_db

REFERENCES = ["SD2-PEOPLE-G1", "SD2-PEOPLE-G2", "SD2-PEOPLE-G3", "SD2-PLACES-S1"]
FIRST = date(2018, 12, 1)
# Days the rules are read on: some before any update, some on as-of dates, some between.
DAYS = [FIRST - timedelta(days=1), FIRST, date(2019, 3, 31), date(2019, 5, 1), date(2019, 6, 30), date(2019, 12, 31)]

update_spec = st.tuples(
    st.integers(0, len(REFERENCES) - 1),
    st.sampled_from([0, 30, 120, 211]),  # days after FIRST: shared as-of dates are common
    st.integers(0, 3),  # approval time, in hours: ties broken by pk
    st.sampled_from(DeliveryStatus.values),
    st.sampled_from(["", *DeliveryConfidence.values]),
    st.one_of(st.none(), st.integers(0, 100)),
)
# Milestones due and done on and about the days read: (commitment, due, done), in days after FIRST.
MILESTONE_OFFSETS = [-1, 0, 1, 120, 150, 211, 212, 395]
milestone_spec = st.tuples(
    st.integers(0, len(REFERENCES) - 1),
    st.sampled_from(MILESTONE_OFFSETS),
    st.one_of(st.none(), st.sampled_from(MILESTONE_OFFSETS)),
)
commitment_spec = st.tuples(
    st.sampled_from([None, date(2019, 1, 31), date(2019, 6, 30), date(2020, 3, 31)]),  # target date
    st.booleans(),  # published
    st.sampled_from(Section.values),
    st.booleans(),  # a sub-item of the first sampled commitment
)


def _history(commitment_specs, update_specs, milestone_specs=()) -> list[Commitment]:
    """Rows in the states hypothesis draws, written directly: the rules read rows, however they were written.

    No service makes these histories: none turns an approved update back into a draft (here, to clear the
    seeded history) or approves at a chosen hour (here, to tie approvals, which pk breaks). The commitments'
    target dates, sections, parents and published flags are written the same way: the rules read rows and
    nothing else, so their two sides must agree on any rows, and what the services do besides writing
    (permissions, history, the hooks that bring the stored figures up to date) is not what is checked here.
    The delivery spans are rebuilt from the rows at the end.
    """
    commitments = list(Commitment.objects.filter(reference__in=REFERENCES).order_by("reference"))
    StatusUpdate.objects.filter(commitment__in=commitments, state=UpdateState.APPROVED).update(state=UpdateState.DRAFT)
    for commitment, (target, published, section, sub_item) in zip(commitments, commitment_specs, strict=True):
        parent = commitments[0] if sub_item and commitment != commitments[0] else None
        Commitment.objects.filter(pk=commitment.pk).update(
            target_date=target, published=published, section=section, parent=parent
        )
    for index, offset, hour, status, confidence, progress in update_specs:
        as_of = FIRST + timedelta(days=offset)
        StatusUpdate.objects.create(
            commitment=commitments[index],
            as_of=as_of,
            status=status,
            confidence=confidence,
            progress=progress,
            narrative="Generated.",
            state=UpdateState.APPROVED,
            approved_at=datetime(2020, 1, 1, hour, tzinfo=UTC),
        )
    for index, due_offset, done_offset in milestone_specs:
        Milestone.objects.create(
            commitment=commitments[index],
            title="Generated.",
            due_on=FIRST + timedelta(days=due_offset),
            done_on=None if done_offset is None else FIRST + timedelta(days=done_offset),
        )
    spans_rebuild(commitment_ids=[c.pk for c in commitments])
    return list(Commitment.objects.filter(pk__in=[c.pk for c in commitments]).select_related("deal"))


def _status(update: StatusUpdate | None) -> str | None:
    """The status an update gives, or None without one (``rules.is_update_due``'s reading of no update)."""
    return update.status if update is not None else None


def _members(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    commitment_specs=st.tuples(*(commitment_spec for _ in REFERENCES)),
    update_specs=st.lists(update_spec, max_size=14),
    milestone_specs=st.lists(milestone_spec, max_size=6),
)
def test_each_rules_python_and_sql_agree(commitment_specs, update_specs, milestone_specs):
    with transaction.atomic():
        commitments = _history(commitment_specs, update_specs, milestone_specs)
        ids = [c.pk for c in commitments]
        base = Commitment.objects.filter(pk__in=ids)
        updates: dict[int, list[StatusUpdate]] = {pk: [] for pk in ids}
        for update in StatusUpdate.objects.filter(commitment_id__in=ids):
            updates[update.commitment_id].append(update)
        governed_then = {day: {pk: rules.governing_update(updates[pk], day) for pk in ids} for day in DAYS}
        milestones = list(Milestone.objects.filter(commitment__in=ids))
        for day in DAYS:
            governing = governed_then[day]
            states = {pk: rules.state_from_update(update) for pk, update in governing.items()}

            # The governing update: Python, the ordered subquery, and the delivery spans.
            for pk in ids:
                first = rules.governing_updates(day, commitment=pk).first()
                python_side = governing[pk]
                assert (first.pk if first else None) == (python_side.pk if python_side else None)
            covering = {
                commitment_id: update_id
                for commitment_id, update_id, starts, ends in DeliverySpan.objects.filter(
                    commitment_id__in=ids
                ).values_list("commitment_id", "update_id", "starts", "ends")
                if rules.span_covers(starts, ends, day)
            }
            spans = dict(
                base.annotate(now=rules.covering_span(day))
                .filter(now__isnull=False)
                .values_list("pk", "now__update_id")
            )
            assert spans == covering == {pk: update.pk for pk, update in governing.items() if update is not None}

            # The state, implied progress included: Python against the annotated query.
            with_state: Any = rules.with_state_on(base, day)  # annotated: the plugin cannot see the state_* names
            annotated = {
                row["pk"]: rules.DeliveryState(
                    row["state_status"], row["state_confidence"], row["state_progress"], row["state_as_of"]
                )
                for row in with_state.values("pk", "state_status", "state_confidence", "state_progress", "state_as_of")
            }
            assert annotated == states
            # As recorded at a moment (a sign-off): only the updates approved by then, both sides.
            recorded_at = datetime(2020, 1, 1, 1, tzinfo=UTC)
            recorded = {pk: rules.governing_update(updates[pk], day, approved_by=recorded_at) for pk in ids}
            for pk in ids:
                first = rules.governing_updates(day, commitment=pk, approved_by=recorded_at).first()
                python_side = recorded[pk]
                assert (first.pk if first else None) == (python_side.pk if python_side else None)
            as_recorded: Any = rules.with_state_on(base, day, approved_by=recorded_at)
            assert {
                row["pk"]: rules.DeliveryState(
                    row["state_status"], row["state_confidence"], row["state_progress"], row["state_as_of"]
                )
                for row in as_recorded.values("pk", "state_status", "state_confidence", "state_progress", "state_as_of")
            } == {pk: rules.state_from_update(update) for pk, update in recorded.items()}
            for pk, governed in governing.items():
                if governed is not None:
                    assert states[pk].progress == rules.implied_progress(governed.status, governed.progress)

            # Overdue: over the annotated state, over the spans (no span: not started), and in Python.
            expected = {
                c.pk
                for c in commitments
                if rules.is_overdue(target_date=c.target_date, status=states[c.pk].status, day=day)
            }
            on_state = rules.with_state_on(base, day).filter(rules.overdue_condition(on=day, status="state_status"))
            on_spans = base.annotate(now=rules.covering_span(day)).filter(
                rules.overdue_condition(on=day, status="now__status", no_state=Q(now__isnull=True))
            )
            assert _members(on_state) == _members(on_spans) == expected

            # Stale: no approved update from the period's start to the day.
            period_start = FIRST + timedelta(days=30)
            if day >= period_start:
                expected = {pk for pk in ids if rules.is_stale(state_as_of=states[pk].as_of, period_start=period_start)}
                fresh = _members(base.annotate(now=rules.covering_span(day)).filter(rules.fresh_span(period_start)))
                assert _members(base.filter(rules.stale_condition(start=period_start, end=day))) == expected
                on_state = rules.with_state_on(base, day).filter(rules.stale_state(period_start=period_start))
                assert _members(on_state) == expected
                assert set(ids) - fresh == expected

            # Counted: published, of a deal published by the day.
            expected = {
                c.pk
                for c in commitments
                if rules.counts(published=c.published, deal_published_on=c.deal.published_on, day=day)
            }
            assert _members(base.filter(rules.counted_on(day))) == expected

            # Movement from an earlier day: every kind, both sides.
            for earlier in (d for d in DAYS if d < day):
                before = {pk: rules.state_from_update(rules.governing_update(updates[pk], earlier)) for pk in ids}
                moved = {
                    pk: rules.movement(
                        status_before=before[pk].status,
                        confidence_before=before[pk].confidence,
                        status_after=states[pk].status,
                        confidence_after=states[pk].confidence,
                    )
                    for pk in ids
                }
                ranked = base.annotate(now=rules.covering_span(day), before=rules.covering_span(earlier)).annotate(
                    **rules.movement_annotations(after="now__", before="before__")
                )
                for name, condition in rules.movement_conditions().items():
                    assert _members(ranked.filter(condition)) == {pk for pk in ids if getattr(moved[pk], name)}, name
                on_states = rules.with_state_on(rules.with_state_on(base, day), earlier, prefix="before").annotate(
                    **rules.movement_annotations(after="state_", before="before_")
                )
                for name, condition in rules.movement_conditions().items():
                    assert _members(on_states.filter(condition)) == {pk for pk in ids if getattr(moved[pk], name)}

                # The period after ``earlier``: its update is due from what was in delivery on ``earlier`` (no
                # approved update: not started, due), and done by an approved update as of a day in it.
                due = {pk for pk in ids if rules.is_update_due(status_before=_status(governed_then[earlier][pk]))}
                on_spans = base.annotate(before=rules.covering_span(earlier)).filter(rules.update_due_span("before"))
                assert _members(on_spans) == due
                start = earlier + timedelta(days=1)
                done = {pk for pk in due if not rules.is_stale(state_as_of=states[pk].as_of, period_start=start)}
                in_period = base.filter(pk__in=due).filter(rules.approved_update_in(start=start, end=day))
                fresh_now = (
                    base.filter(pk__in=due).annotate(now=rules.covering_span(day)).filter(rules.fresh_span(start))
                )
                assert _members(in_period) == _members(fresh_now) == done
                # Milestones overdue may change between the two days only for the commitments the ORM names.
                differs = {
                    milestone.commitment_id
                    for milestone in milestones
                    if rules.is_milestone_overdue(due_on=milestone.due_on, done_on=milestone.done_on, day=earlier)
                    != rules.is_milestone_overdue(due_on=milestone.due_on, done_on=milestone.done_on, day=day)
                }
                may_change = _members(base.filter(rules.milestone_overdue_may_change(after=earlier, until=day)))
                assert differs <= may_change

            # Milestones overdue on the day: Python, over milestones, and through the commitment.
            overdue_milestones = {
                milestone.pk
                for milestone in milestones
                if rules.is_milestone_overdue(due_on=milestone.due_on, done_on=milestone.done_on, day=day)
            }
            found = Milestone.objects.filter(commitment__in=ids).filter(rules.milestone_overdue_condition(on=day))
            assert _members(found) == overdue_milestones
            through = base.filter(rules.milestone_overdue_condition(on=day, prefix="milestones__"))
            assert _members(through) == {m.commitment_id for m in milestones if m.pk in overdue_milestones}

        # Key commitment, chapter elaboration, sub-item.
        for kind in (rules.KEY_COMMITMENT, rules.CHAPTER_ELABORATION, rules.SUB_ITEM):
            expected = {
                c.pk for c in commitments if rules.commitment_kind(section=c.section, parent_id=c.parent_id) == kind
            }
            assert _members(base.filter(rules.commitment_kind_condition(kind))) == expected
        kinds = dict(base.annotate(kind=rules.commitment_kind_expression()).values_list("pk", "kind"))
        assert kinds == {c.pk: rules.commitment_kind(section=c.section, parent_id=c.parent_id) for c in commitments}
        # Population: the key commitments, or everything.
        for population in rules.Population.values:
            expected = {c.pk for c in commitments if rules.in_population(population=population, kind=kinds[c.pk])}
            assert _members(base.filter(rules.population_condition(population))) == expected, population
        # Reporting progress: a progress figure, as implied on the day (the last day read above).
        reporting = rules.with_state_on(base, day).filter(rules.progress_reported_condition("state_progress"))
        assert _members(reporting) == {pk for pk in ids if rules.reports_progress(states[pk].progress)}
        transaction.set_rollback(True)


def test_a_first_rating_and_a_withdrawn_rating_are_not_improvement_or_worsening():
    """Not rated is not a rung of the five-point scale (docs/metrics.md)."""
    first = rules.movement(
        status_before="in_progress", confidence_before="", status_after="in_progress", confidence_after="amber_green"
    )
    assert (first.improved, first.worsened, first.newly_rated) == (False, False, True)
    lost = rules.movement(
        status_before="in_progress", confidence_before="red", status_after="in_progress", confidence_after=""
    )
    assert (lost.improved, lost.worsened, lost.rating_withdrawn) == (False, False, True)
    forward = rules.movement(
        status_before="not_started", confidence_before="", status_after="delivered", confidence_after="green"
    )
    assert (forward.improved, forward.newly_rated, forward.newly_delivered) == (True, True, True)
