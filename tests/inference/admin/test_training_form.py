"""The tenant admin's Start training form refuses hyperparameters nested too deep, in words."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from core.json_limits import MAX_JSON_DEPTH
from inference.admin.training import TrainingJobStartForm


def test_hyperparameters_nested_too_deep_are_a_form_error_not_a_500(tenant_a):
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    with tenant_context(tenant_a):
        form = TrainingJobStartForm(data={"hyperparameters": deep})
        assert not form.is_valid()
    assert f"more than {MAX_JSON_DEPTH} levels deep" in form.errors["hyperparameters"][0]
