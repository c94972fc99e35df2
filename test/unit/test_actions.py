"""apis.actions: the CustomAction checks, the Action built from it, its status; and its table row
(server.printing.tables).

Covers the operation check (unknown and missing operations raise UnsupportedOperation), required
and typed parameters per operation, Arktos's ``{operation}-{unixtime}`` names with the collision
suffix, the Action spec/owner built from a pod, the one-operation rule for Actions created
directly, the status a kubelet writes per operation and outcome, and the Action printer's cells.
Leaves out the HTTP subresource (test/component/test_vm_actions_api.py).
"""

from __future__ import annotations

import pytest

from apis.actions import (
    UnsupportedOperation,
    action_name,
    action_spec_errors,
    completed_status,
    custom_action_errors,
    new_action,
    operation_of,
    target_errors,
)
from server.printing.config_printers import ACTION_PRINTER

VM_POD = {"metadata": {"name": "vm1", "uid": "u-1", "namespace": "default"},
          "spec": {"nodeName": "n1", "virtualMachine": {"name": "vm"}}}


@pytest.mark.parametrize("body", [{}, {"operation": ""}, {"operation": "resize"}, {"operation": 3}])
def test_unknown_operations(body: dict[str, object]) -> None:
    with pytest.raises(UnsupportedOperation):
        custom_action_errors(body)


@pytest.mark.parametrize(("body", "field"), [
    ({"operation": "snapshot"}, "snapshotParams.snapshotName"),
    ({"operation": "snapshot", "snapshotParams": {"snapshotName": 5}}, "snapshotParams.snapshotName"),
    ({"operation": "restore", "restoreParams": {"snapshotID": ""}}, "restoreParams.snapshotID"),
    ({"operation": "reboot", "rebootParams": {"delayInSeconds": -2}}, "rebootParams.delayInSeconds"),
    ({"operation": "reboot", "rebootParams": {"delayInSeconds": True}}, "rebootParams.delayInSeconds"),
    ({"operation": "reboot", "rebootParams": "soon"}, "rebootParams"),
])
def test_parameter_errors(body: dict[str, object], field: str) -> None:
    assert [e.field for e in custom_action_errors(body)] == [field]


def test_valid_requests_have_no_errors() -> None:
    assert custom_action_errors({"operation": "reboot"}) == []
    assert custom_action_errors({"operation": "restore", "restoreParams": {"snapshotID": "x"}}) == []


def test_names_and_the_built_action() -> None:
    assert action_name("reboot", 1700000000) == "reboot-1700000000"
    assert action_name("reboot", 1700000000, 2) == "reboot-1700000000-2"
    action = new_action(VM_POD, {"operation": "reboot", "rebootParams": {"delayInSeconds": 4, "x": 1}},
                        name="reboot-1")
    assert action["spec"] == {"nodeName": "n1", "podName": "vm1", "podID": "u-1",
                              "rebootAction": {"delayInSeconds": 4}}
    assert action["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert operation_of(action) == "reboot" and action_spec_errors(action) == []
    assert target_errors(VM_POD) is None
    assert target_errors({"metadata": {"name": "web"}, "spec": {"containers": []}}) is not None


def test_an_action_names_one_operation() -> None:
    both = {"spec": {"podName": "p", "rebootAction": {}, "restoreAction": {"snapshotID": "s"}}}
    assert [e.field for e in action_spec_errors(both)] == ["spec.restoreAction"]
    assert [e.field for e in action_spec_errors({"spec": {}})] == ["spec.podName", "spec"]


def test_completed_status_per_operation() -> None:
    assert completed_status("snapshot", snapshot_id="s-1", completion_time="T") == {
        "complete": True, "error": "", "completionTime": "T", "snapshotStatus": {"snapshotID": "s-1"}}
    assert completed_status("reboot", error="boom")["rebootStatus"] == {"rebootSuccessful": False}
    assert completed_status("restore")["restoreStatus"] == {"restoreSuccessful": True}


def test_printer_cells() -> None:
    action = new_action(VM_POD, {"operation": "snapshot", "snapshotParams": {"snapshotName": "n"}},
                        name="snapshot-1")
    action["status"] = completed_status("snapshot", snapshot_id="s-9")
    cells = ACTION_PRINTER.cells(action, 0.0)
    assert cells[:5] == ["snapshot-1", "snapshot", "vm1", "n1", True] and cells[6] == "snapshotID=s-9"
    assert len(cells) == len(ACTION_PRINTER.columns)
