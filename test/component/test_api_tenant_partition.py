"""A Tenant's partition (``spec.storageClusterId``) on a real server: the scale-out gateway routes
by it, so it must never change once set.

Covers: the Table of tenants (``kubectl get tenants``) carries the ``Partition`` column at priority
0 with ``spec.storageClusterId`` (a tenant created without one shows "0"); an update (PUT, merge,
strategic-merge and JSON patch, PUT without the field, which defaults it to "0") that changes it
is 422 Invalid naming ``spec.storageClusterId``, and the stored tenant keeps its partition; an
update that keeps it succeeds.
Leaves out: kubectl's rendering of the column (test/e2e/test_kubectl_columns.py) and the
gateway's choice of partition (gateway tests).
"""

from __future__ import annotations

from typing import Any

from component_http import Api, assert_status

TENANTS = "/api/v1/tenants"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def _tenant(name: str, partition: str | None) -> dict[str, Any]:
    spec = {"storageClusterId": partition} if partition is not None else {}
    return {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": name}, "spec": spec}


async def test_tenants_table_shows_the_partition(api: Api) -> None:
    await api.ok("POST", TENANTS, _tenant("part-one", "1"))
    await api.ok("POST", TENANTS, _tenant("part-default", None))
    table = await api.ok("GET", TENANTS, headers={"Accept": TABLE})
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [("Name", 0), ("Status", 0), ("Age", 0), ("Partition", 0)]
    cells = {row["cells"][0]: row["cells"][3] for row in table["rows"]}
    assert cells["part-one"] == "1"
    assert cells["part-default"] == "0"
    assert cells["system"] == "0"


async def test_the_partition_is_immutable(api: Api) -> None:
    created = await api.ok("POST", TENANTS, _tenant("part-fixed", "1"))
    path = f"{TENANTS}/part-fixed"
    changed = {**created, "spec": {**created["spec"], "storageClusterId": "2"}}
    omitted = {**created, "spec": {k: v for k, v in created["spec"].items() if k != "storageClusterId"}}
    for reply in (await api.put(path, changed),
                  await api.put(path, omitted),
                  await api.patch(path, {"spec": {"storageClusterId": "2"}}),
                  await api.patch(path, {"spec": {"storageClusterId": "3"}}, kind="strategic"),
                  await api.patch(path, [{"op": "replace", "path": "/spec/storageClusterId", "value": "0"}],
                                  kind="json")):
        status = assert_status(reply, 422, "Invalid")
        assert [c["field"] for c in status["details"]["causes"]] == ["spec.storageClusterId"], status
        assert status["details"]["causes"][0]["message"].endswith(": field is immutable"), status
        assert '"1"' not in status["details"]["causes"][0]["message"], status  # the new value, as upstream
    assert (await api.ok("GET", path))["spec"]["storageClusterId"] == "1"
    labelled = await api.ok("PATCH", path, {"metadata": {"labels": {"a": "b"}}},
                            content_type="application/merge-patch+json")
    assert labelled["spec"]["storageClusterId"] == "1"
