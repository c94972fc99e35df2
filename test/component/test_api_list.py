"""LIST semantics: selectors, pagination over one revision, resourceVersion and its match modes.

Covers: label selectors (=, ==, !=, in, notin, exists, !), field selectors (metadata.name,
metadata.namespace, status.phase, spec.nodeName), an unsupported field label (400), an unparsable
label selector (400), ``limit``/``continue`` over the revision of the first page while writes
happen between pages (later writes never show up in later pages), ``remainingItemCount``,
resourceVersion unset / "0" / N / too large (504), ``resourceVersionMatch=Exact`` reading an old
revision, and a continue token (and an Exact read) after compaction answered 410 Expired (a
second server with ``--compaction-interval 1``).
Leaves out: Table and metadata-only list forms (test_api_negotiation.py), cross-tenant listing,
the selector grammar's corner cases (unit tests).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from apiserver_process import ApiServerProcess
from component_http import Api, assert_status, configmap, pod


def names(listed: dict) -> list[str]:
    return [item["metadata"]["name"] for item in listed["items"]]


@pytest.fixture
async def labelled(api: Api, namespace: str) -> str:
    """Four configmaps with different labels in a fresh namespace."""
    labels = {"a": {"env": "prod", "tier": "web"}, "b": {"env": "dev"},
              "c": {"env": "prod", "tier": "db"}, "d": {}}
    for name, label_set in labels.items():
        await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap(name, labels=label_set))
    return namespace


@pytest.mark.parametrize(("selector", "expected"), [
    ("env=prod", ["a", "c"]),
    ("env==prod", ["a", "c"]),
    ("env!=prod", ["b", "d"]),
    ("env in (dev,prod)", ["a", "b", "c"]),
    ("env notin (prod)", ["b", "d"]),
    ("tier", ["a", "c"]),
    ("!tier", ["b", "d"]),
    ("env=prod,tier=db", ["c"]),
    ("env=prod,!tier", []),
])
async def test_label_selectors(api: Api, labelled: str, selector: str, expected: list[str]) -> None:
    listed = await api.ok("GET", f"/api/v1/namespaces/{labelled}/configmaps",
                          params={"labelSelector": selector})
    assert names(listed) == expected


async def test_unparsable_label_selector_is_bad_request(api: Api, namespace: str) -> None:
    reply = await api.get(f"/api/v1/namespaces/{namespace}/configmaps", params={"labelSelector": "a in (b"})
    assert_status(reply, 400, "BadRequest")


async def test_field_selectors_on_pods(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("on-node", node="node-1"))
    await api.ok("POST", base, pod("pending"))
    await api.ok("POST", base, pod("running"))
    await api.ok("PATCH", f"{base}/running/status", {"status": {"phase": "Running"}},
                 content_type="application/merge-patch+json")

    async def select(path: str, selector: str) -> list[str]:
        return names(await api.ok("GET", path, params={"fieldSelector": selector}))

    assert await select(base, "metadata.name=pending") == ["pending"]
    assert await select(base, "metadata.name!=pending") == ["on-node", "running"]
    assert await select(base, "spec.nodeName=node-1") == ["on-node"]
    assert await select(base, "spec.nodeName=") == ["pending", "running"]
    assert await select(base, "status.phase=Running") == ["running"]
    assert await select(base, "status.phase=Pending,spec.nodeName=") == ["pending"]
    # Across namespaces, metadata.namespace picks this test's namespace out of all pods.
    assert await select("/api/v1/pods", f"metadata.namespace={namespace}") == ["on-node", "pending",
                                                                               "running"]


async def test_unsupported_field_label_is_bad_request(api: Api, namespace: str) -> None:
    reply = await api.get(f"/api/v1/namespaces/{namespace}/pods", params={"fieldSelector": "spec.foo=x"})
    status = assert_status(reply, 400, "BadRequest")
    assert "field label not supported: spec.foo" in status["message"]


async def test_pages_are_read_at_the_first_pages_revision(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(5):
        await api.ok("POST", base, configmap(f"c{i}", {"v": "old"}))
    first = await api.ok("GET", base, params={"limit": "2"})
    assert names(first) == ["c0", "c1"]
    assert first["metadata"]["remainingItemCount"] == 3
    revision = first["metadata"]["resourceVersion"]

    # Writes between pages: a new object sorting inside the next page, a delete, an update.
    await api.ok("POST", base, configmap("c2b"))
    await api.ok("DELETE", f"{base}/c3")
    await api.ok("PUT", f"{base}/c4", configmap("c4", {"v": "new"}))

    second = await api.ok("GET", base, params={"limit": "2", "continue": first["metadata"]["continue"]})
    assert names(second) == ["c2", "c3"]
    assert second["metadata"]["resourceVersion"] == revision
    assert second["metadata"]["remainingItemCount"] == 1
    third = await api.ok("GET", base, params={"limit": "2", "continue": second["metadata"]["continue"]})
    assert names(third) == ["c4"]
    assert third["items"][0]["data"] == {"v": "old"}
    assert "continue" not in third["metadata"] or not third["metadata"]["continue"]
    assert "remainingItemCount" not in third["metadata"]

    fresh = await api.ok("GET", base)
    assert names(fresh) == ["c0", "c1", "c2", "c2b", "c4"]
    assert int(fresh["metadata"]["resourceVersion"]) > int(revision)


async def test_pagination_with_a_selector_has_no_remaining_count(api: Api, labelled: str) -> None:
    base = f"/api/v1/namespaces/{labelled}/configmaps"
    first = await api.ok("GET", base, params={"limit": "1", "labelSelector": "env"})
    assert names(first) == ["a"]
    assert first["metadata"]["continue"]
    assert "remainingItemCount" not in first["metadata"]
    seen = names(first)
    token = first["metadata"]["continue"]
    for _ in range(5):
        page = await api.ok("GET", base, params={"limit": "1", "labelSelector": "env", "continue": token})
        seen += names(page)
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert seen == ["a", "b", "c"]


async def test_resource_version_unset_reads_the_latest_write(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("fresh"))
    listed = await api.ok("GET", base)
    assert names(listed) == ["fresh"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])


async def test_resource_version_zero_and_n_are_served(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("x"))
    rv = created["metadata"]["resourceVersion"]
    any_version = await api.ok("GET", base, params={"resourceVersion": "0"})
    assert int(any_version["metadata"]["resourceVersion"]) > 0
    assert "x" in names(any_version)
    not_older = await api.ok("GET", base, params={"resourceVersion": rv})
    assert names(not_older) == ["x"]
    assert int(not_older["metadata"]["resourceVersion"]) >= int(rv)
    explicit = await api.ok("GET", base, params={"resourceVersion": rv,
                                                 "resourceVersionMatch": "NotOlderThan"})
    assert names(explicit) == ["x"]


async def test_resource_version_from_the_future_times_out(api: Api, namespace: str) -> None:
    reply = await api.get(f"/api/v1/namespaces/{namespace}/configmaps",
                          params={"resourceVersion": "999999999"})
    status = assert_status(reply, 504, "Timeout")
    assert status["message"].startswith("Too large resource version: 999999999, current: ")


async def test_resource_version_match_requires_a_resource_version(api: Api, namespace: str) -> None:
    reply = await api.get(f"/api/v1/namespaces/{namespace}/configmaps",
                          params={"resourceVersionMatch": "Exact"})
    assert_status(reply, 400, "BadRequest")
    reply = await api.get(f"/api/v1/namespaces/{namespace}/configmaps",
                          params={"resourceVersion": "1", "resourceVersionMatch": "Sometime"})
    assert_status(reply, 400, "BadRequest")


async def test_exact_match_reads_an_old_revision(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("e", {"v": "1"}))
    old_rv = created["metadata"]["resourceVersion"]
    await api.ok("PUT", f"{base}/e", configmap("e", {"v": "2"}))
    await api.ok("POST", base, configmap("later"))
    old = await api.ok("GET", base, params={"resourceVersion": old_rv, "resourceVersionMatch": "Exact"})
    assert names(old) == ["e"]
    assert old["items"][0]["data"] == {"v": "1"}
    assert old["items"][0]["metadata"]["resourceVersion"] == old_rv
    assert old["metadata"]["resourceVersion"] == old_rv


@pytest.fixture(scope="module")
def compacting_server(server_factory) -> ApiServerProcess:  # type: ignore[no-untyped-def]
    """A second server that compacts its history every second."""
    return server_factory("--compaction-interval", "1")


async def test_continue_token_after_compaction_is_expired(compacting_server: ApiServerProcess) -> None:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        api = Api(session, compacting_server.url)
        base = "/api/v1/namespaces/default/configmaps"
        for i in range(3):
            await api.ok("POST", base, configmap(f"p{i}"))
        first = await api.ok("GET", base, params={"limit": "1"})
        token, old_rv = first["metadata"]["continue"], first["metadata"]["resourceVersion"]
        await api.ok("POST", base, configmap("after"))  # moves the revision past the token's

        deadline = time.monotonic() + 10
        reply = await api.get(base, params={"limit": "1", "continue": token})
        while reply.status == 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            reply = await api.get(base, params={"limit": "1", "continue": token})
        status = assert_status(reply, 410, "Expired")
        assert "continue parameter is too old" in status["message"]

        exact = await api.get(base, params={"resourceVersion": old_rv, "resourceVersionMatch": "Exact"})
        status = assert_status(exact, 410, "Expired")
        assert status["message"] == "The resourceVersion for the provided list is too old."
