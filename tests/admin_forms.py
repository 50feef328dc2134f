"""Build the POST data an admin change form would send, from the form the admin rendered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.forms import BaseForm, BaseFormSet

if TYPE_CHECKING:
    # The test client's response, with the context the template was rendered with (stubs only).
    from django.test.client import _MonkeyPatchedWSGIResponse


def _form_values(form: BaseForm) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if callable(value):
            value = value()
        if value is None:
            continue
        if isinstance(value, list | tuple):
            values[form.add_prefix(name)] = [getattr(item, "pk", item) for item in value]
        elif isinstance(value, bool):
            if value:
                values[form.add_prefix(name)] = "on"
        else:
            values[form.add_prefix(name)] = getattr(value, "pk", value)
    return values


def change_form_data(response: _MonkeyPatchedWSGIResponse, **changes: Any) -> dict[str, Any]:
    """The data of the rendered admin form and its inlines, with ``changes`` applied to the main form."""
    context = response.context
    form = context["adminform"].form
    if form.is_bound:
        # The form was shown again after a POST: send back what was posted, as a browser would.
        posted = {key: values if len(values) > 1 else values[0] for key, values in form.data.lists()}
        return {**posted, **changes}
    data = _form_values(form)
    for inline in context["inline_admin_formsets"]:
        formset: BaseFormSet = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        for form in formset.initial_forms:
            data.update(_form_values(form))
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}
