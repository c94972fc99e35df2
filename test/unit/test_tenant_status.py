"""The Tenant's Initialized condition (apis/tenant_status) and its place in the served schema.

Covers: a new tenant's condition (False, Initializing), setting a condition as upstream's
meta.SetStatusCondition does (added when absent, replaced by type, lastTransitionTime kept while
the status stays, nothing to write when unchanged), and that the Tenant schema accepts conditions
and refuses a condition without its required fields. Leaves out the controller and kubectl wait
(test/component/test_tenant_controller.py).
"""

from __future__ import annotations

from apis.tenant_status import condition_of, initialized_condition, initializing, with_condition
from server.resources.builtin import builtin_catalogue
from server.schema.schema_set import SchemaSet
from server.schema.validation import Validators


def test_new_tenants_start_not_initialized() -> None:
    condition = initializing("2026-01-01T00:00:00Z")
    assert condition["type"] == "Initialized" and condition["status"] == "False"
    assert condition["reason"] == "Initializing" and condition["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert condition_of({"status": {"conditions": [condition]}}) == condition
    assert condition_of({"status": {}}) is None


def test_with_condition_sets_by_type_and_keeps_the_transition_time() -> None:
    other = {"type": "Other", "status": "True"}
    start = initializing("2026-01-01T00:00:00Z")
    done = initialized_condition(True, reason="DefaultsCreated", message="m", now="2026-01-01T00:00:05Z")
    assert with_condition(None, start) == [start]
    flipped = with_condition([other, start], done)
    assert flipped == [other, done]
    # Same status later: nothing to write; a new message keeps the old transition time.
    assert with_condition(flipped, {**done, "lastTransitionTime": "2026-01-02T00:00:00Z"}) is None
    reworded = with_condition(flipped, {**done, "message": "n", "lastTransitionTime": "2026-01-02T00:00:00Z"})
    assert reworded == [other, {**done, "message": "n"}]


def test_tenant_schema_accepts_conditions() -> None:
    tenants = builtin_catalogue().lookup("", "v1", "tenants")
    assert tenants is not None
    tenant = {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": "acme"},
              "status": {"phase": "Active", "conditions": [initializing("2026-01-01T00:00:00Z")]}}
    validators = Validators(SchemaSet())
    report = validators.inspect(tenants, tenant)
    assert not report.errors and not report.unknown and not report.type_errors
    broken = {**tenant, "status": {"conditions": [{"reason": "NoType"}]}}
    assert validators.inspect(tenants, broken).errors
