"""Request options checked as upstream checks them, each failure a Status, nothing written.

Covers: DeleteOptions bodies of the wrong shape (``{"preconditions": "x"}``, a string
gracePeriodSeconds, a bare-string dryRun, another kind, a JSON list) → 400 with the Go decoder's
text; ``orphanDependents`` with ``propagationPolicy`` and an unknown policy → 422 with upstream's
texts; query values that do not parse (gracePeriodSeconds, orphanDependents, limit, timeoutSeconds
beyond int64) → 400 with Go's strconv text; ``resourceVersion=abc`` on list, watch and get → 400
(``invalid resource version: ...``) instead of a watch that answers 200 and a 410 event; apply
without ``fieldManager``, ``force`` on a merge patch, an unknown fieldValidation and an
over-long fieldManager → 422 of PatchOptions/CreateOptions; a merge, strategic or JSON patch
that renames the object or moves its namespace → 400 (upstream checkName), object unchanged.
Leaves out: dryRun (test_api_dry_run.py), body sizes and decoding limits (test_api_limits.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from component_http import Api, assert_status, configmap


@pytest.mark.parametrize(("body", "message"), [
    ({"preconditions": "x"},
     "json: cannot unmarshal string into Go struct field DeleteOptions.preconditions of type "
     "v1.Preconditions"),
    ({"gracePeriodSeconds": "soon"},
     "json: cannot unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds of type int64"),
    ({"gracePeriodSeconds": 2**63},
     "json: cannot unmarshal number 9223372036854775808 into Go struct field "
     "DeleteOptions.gracePeriodSeconds of type int64"),
    ({"dryRun": "All"},
     "json: cannot unmarshal string into Go struct field DeleteOptions.dryRun of type []string"),
    ({"preconditions": {"uid": 7}},
     "json: cannot unmarshal number into Go struct field Preconditions.preconditions.uid of type string"),
    ({"kind": "Pod", "apiVersion": "v1"}, "decoded object cannot be converted to DeleteOptions"),
    (["not", "an", "object"], "decoded object cannot be converted to DeleteOptions"),
])
async def test_malformed_delete_options_are_bad_requests(api: Api, namespace: str, body: Any,
                                                         message: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("c"))
    status = assert_status(await api.delete(f"{base}/c", body), 400, "BadRequest")
    assert status["message"] == message
    assert_status(await api.delete(base, body), 400, "BadRequest")
    await api.ok("GET", f"{base}/c")


@pytest.mark.parametrize(("options", "message"), [
    ({"orphanDependents": True, "propagationPolicy": "Background"},
     'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Background": '
     "orphanDependents and deletionPropagation cannot be both set"),
    ({"propagationPolicy": "Sometimes"},
     'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sometimes": '
     'supported values: "Foreground", "Background", "Orphan", "nil"'),
])
async def test_invalid_delete_options_are_unprocessable(api: Api, namespace: str, options: dict[str, Any],
                                                        message: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("c"))
    assert assert_status(await api.delete(f"{base}/c", options), 422, "Invalid")["message"] == message
    query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in options.items()}
    assert assert_status(await api.delete(f"{base}/c", params=query), 422, "Invalid")["message"] == message
    await api.ok("GET", f"{base}/c")


@pytest.mark.parametrize(("params", "message"), [
    ({"gracePeriodSeconds": "soon"}, 'strconv.ParseInt: parsing "soon": invalid syntax'),
    ({"gracePeriodSeconds": "99999999999999999999"},
     'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
    ({"orphanDependents": "maybe"}, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
])
async def test_delete_query_values_that_do_not_parse(api: Api, namespace: str, params: dict[str, str],
                                                     message: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("c"))
    reply = await api.delete(f"{base}/c", params=params)
    assert assert_status(reply, 400, "BadRequest")["message"] == message
    await api.ok("GET", f"{base}/c")


async def test_huge_grace_period_is_accepted_without_overflow(api: Api, namespace: str) -> None:
    """Any int64 grace period is legal upstream; the deletion timestamp saturates, no 500."""
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]}})
    answer = await api.ok("DELETE", f"{base}/p", {"gracePeriodSeconds": 2**63 - 1})
    assert answer["metadata"]["deletionGracePeriodSeconds"] == 2**63 - 1
    assert answer["metadata"]["deletionTimestamp"].startswith("9999-")


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "18446744073709551616"])
async def test_bad_resource_versions_are_bad_requests(api: Api, namespace: str, value: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("c"))
    problem = "value out of range" if value.isdigit() else "invalid syntax"
    expected = (f'invalid resource version: resourceVersion: Invalid value: "{value}": '
                f'strconv.ParseUint: parsing "{value}": {problem}')
    for path, params in ((base, {}), (base, {"watch": "true", "timeoutSeconds": "5"}),
                         (f"{base}/c", {})):
        reply = await api.get(path, params={**params, "resourceVersion": value})
        assert assert_status(reply, 400, "BadRequest")["message"] == expected, (path, params)


@pytest.mark.parametrize(("params", "message"), [
    ({"limit": "ten"}, 'strconv.ParseInt: parsing "ten": invalid syntax'),
    ({"watch": "true", "timeoutSeconds": "1" * 30},
     f'strconv.ParseInt: parsing "{"1" * 30}": value out of range'),
    ({"watch": "true", "allowWatchBookmarks": "yes please"},
     'strconv.ParseBool: parsing "yes please": invalid syntax'),
])
async def test_list_query_values_that_do_not_parse(api: Api, namespace: str, params: dict[str, str],
                                                   message: str) -> None:
    reply = await api.get(f"/api/v1/namespaces/{namespace}/configmaps", params=params)
    assert assert_status(reply, 400, "BadRequest")["message"] == message


async def test_write_options_are_validated(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("c", {"k": "v"}))
    apply = await api.request("PATCH", f"{base}/c", configmap("c", {"k": "applied"}),
                              content_type="application/apply-patch+yaml")
    assert assert_status(apply, 422, "Invalid")["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    forced = await api.patch(f"{base}/c", {"data": {"k": "forced"}}, params={"force": "true"})
    assert assert_status(forced, 422, "Invalid")["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch')
    strictish = await api.post(base, configmap("d"), params={"fieldValidation": "Strictish"})
    assert assert_status(strictish, 422, "Invalid")["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Strictish": '
        'supported values: "", "Ignore", "Strict", "Warn"')
    manager = await api.post(base, configmap("d"), params={"fieldManager": "m" * 129})
    assert assert_status(manager, 422, "Invalid")["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes')
    control = await api.post(base, configmap("d"), params={"fieldManager": "a\tb"})
    assert 'invalid character U+0009 (at position 1)' in assert_status(control, 422, "Invalid")["message"]
    assert [i["metadata"]["name"] for i in (await api.ok("GET", base))["items"]] == ["c"]
    assert (await api.ok("GET", f"{base}/c"))["data"] == {"k": "v"}
    applied = await api.request("PATCH", f"{base}/c", configmap("c", {"k": "applied"}),
                                content_type="application/apply-patch+yaml", params={"fieldManager": "t"})
    assert applied.status == 200 and applied.body["data"] == {"k": "applied"}


@pytest.mark.parametrize(("kind", "patch"), [
    ("merge", {"metadata": {"name": "renamed"}}),
    ("strategic", {"metadata": {"name": "renamed"}}),
    ("json", [{"op": "replace", "path": "/metadata/name", "value": "renamed"}]),
    ("merge", {"metadata": {"name": None}}),
])
async def test_a_patch_cannot_rename_the_object(api: Api, namespace: str, kind: str, patch: Any) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("orig"))
    status = assert_status(await api.patch(f"{base}/orig", patch, kind=kind), 400, "BadRequest")
    shown = "renamed" if "renamed" in str(patch) else ""
    assert status["message"] == f"the name of the object ({shown}) does not match the name on the URL (orig)"
    stored = await api.ok("GET", f"{base}/orig")
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert_status(await api.get(f"{base}/renamed"), 404, "NotFound")


async def test_a_patch_cannot_move_the_object(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("here"))
    status = assert_status(await api.patch(f"{base}/here", {"metadata": {"namespace": "elsewhere"}}),
                           400, "BadRequest")
    assert status["message"] == (f"the namespace of the object (elsewhere) does not match the namespace on "
                                 f"the request ({namespace})")
    applied = await api.request("PATCH", f"{base}/new", {**configmap("other")},
                                content_type="application/apply-patch+yaml", params={"fieldManager": "t"})
    assert assert_status(applied, 400, "BadRequest")["message"] == (
        "the name of the object (other) does not match the name on the URL (new)")
    assert [i["metadata"]["name"] for i in (await api.ok("GET", base))["items"]] == ["here"]
