"""The official `kubernetes` Python client against a real server: CRUD, selectors, pagination, watch.

Covers: create/read/replace/patch/delete of ConfigMaps and Pods (server-set metadata, defaults,
resourceVersion moving forward, 404 after delete, 409 on a stale replace); DELETE answers parsed
as the client's generated types expect (a V1Service for services, a Status dict for configmaps);
label selectors
(=, !=, in, notin, exists, !) and field selectors; `limit`/`continue` paging over one consistent
snapshot (an object created mid-way is not in later pages); watch resumed from a
resourceVersion (sees exactly the later changes, in order); and 410 Gone for a resourceVersion
the server no longer has (a restarted server's watch cache starts at the store's current
revision, as upstream's does after an apiserver restart), surfaced by the client as
ApiException(410). Leaves out: the async client and informers (client/ has its own tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess, start_apiserver
from kubernetes import client as k8s
from kubernetes import watch

pytestmark = [pytest.mark.e2e]

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
WATCH_TIMEOUT_S = 5


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> k8s.V1ConfigMap:
    return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name, labels=labels), data=data or None)


def test_configmap_crud(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    created = core_v1.create_namespaced_config_map(namespace, configmap("crud", k="v1"))
    assert created.metadata.uid and created.metadata.creation_timestamp and created.metadata.resource_version
    assert created.metadata.namespace == namespace

    read = core_v1.read_namespaced_config_map("crud", namespace)
    assert read.data == {"k": "v1"} and read.metadata.uid == created.metadata.uid

    read.data["k"] = "v2"
    replaced = core_v1.replace_namespaced_config_map("crud", namespace, read)
    assert replaced.data == {"k": "v2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    with pytest.raises(k8s.ApiException) as conflict:
        core_v1.replace_namespaced_config_map("crud", namespace, read)  # stale resourceVersion
    assert conflict.value.status == 409

    patched = core_v1.patch_namespaced_config_map(
        "crud", namespace, {"data": {"extra": "x"}}, _content_type=MERGE_PATCH
    )
    assert patched.data == {"k": "v2", "extra": "x"}

    core_v1.delete_namespaced_config_map("crud", namespace)
    with pytest.raises(k8s.ApiException) as gone:
        core_v1.read_namespaced_config_map("crud", namespace)
    assert gone.value.status == 404


def test_pod_create_is_defaulted_and_status_is_separate(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(generate_name="gen-"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="busybox")]),
    )
    created = core_v1.create_namespaced_pod(namespace, pod)
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) > len("gen-")
    assert created.spec.restart_policy == "Always" and created.spec.dns_policy == "ClusterFirst"
    assert created.spec.containers[0].image_pull_policy == "Always"  # no tag means :latest
    assert created.status.phase == "Pending"

    name = created.metadata.name
    patch = {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    patched = core_v1.patch_namespaced_pod(name, namespace, patch, _content_type=STRATEGIC_PATCH)
    assert patched.spec.containers[0].image == "busybox:1.36"

    # Through the main resource, status is ignored; through /status, spec is.
    core_v1.patch_namespaced_pod(name, namespace, {"status": {"phase": "Running"}}, _content_type=MERGE_PATCH)
    assert core_v1.read_namespaced_pod(name, namespace).status.phase == "Pending"
    core_v1.patch_namespaced_pod_status(
        name, namespace, {"status": {"phase": "Running"}}, _content_type=MERGE_PATCH
    )
    assert core_v1.read_namespaced_pod_status(name, namespace).status.phase == "Running"
    core_v1.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


def test_delete_answers_are_parsed_as_upstream_documents_them(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    # delete_namespaced_service parses a V1Service (upstream's services registry returns the
    # deleted object); delete_namespaced_config_map takes the Success Status as a plain dict.
    service = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="gone"),
                            spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)]))
    created = core_v1.create_namespaced_service(namespace, service)
    deleted = core_v1.delete_namespaced_service("gone", namespace)
    assert isinstance(deleted, k8s.V1Service)
    assert deleted.metadata.uid == created.metadata.uid and deleted.spec.ports[0].port == 80
    core_v1.create_namespaced_config_map(namespace, configmap("gone", k="v"))
    status = core_v1.delete_namespaced_config_map("gone", namespace)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"] == {"name": "gone", "kind": "configmaps", "uid": status["details"]["uid"]}


def names(items: list[Any]) -> list[str]:
    return sorted(item.metadata.name for item in items)


def test_list_with_label_and_field_selectors(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    core_v1.create_namespaced_config_map(namespace, configmap("a", {"app": "web", "tier": "front"}))
    core_v1.create_namespaced_config_map(namespace, configmap("b", {"app": "web"}))
    core_v1.create_namespaced_config_map(namespace, configmap("c", {"app": "db", "tier": "back"}))

    def select(label: str = "", field: str = "") -> list[str]:
        return names(
            core_v1.list_namespaced_config_map(
                namespace, label_selector=label or None, field_selector=field or None
            ).items
        )

    assert select("app=web") == ["a", "b"]
    assert select("app==db") == ["c"]
    assert select("app!=web") == ["c"]
    assert select("tier in (front,back)") == ["a", "c"]
    assert select("tier notin (front)") == ["b", "c"]
    assert select("tier") == ["a", "c"]
    assert select("!tier") == ["b"]
    assert select("app=web,tier") == ["a"]
    assert select(field="metadata.name=b") == ["b"]
    assert select(field=f"metadata.namespace={namespace},metadata.name!=b") == ["a", "c"]
    with pytest.raises(k8s.ApiException) as bad:
        select(field="spec.nope=1")
    assert bad.value.status == 400


def test_pagination_is_one_consistent_snapshot(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    for i in range(7):
        core_v1.create_namespaced_config_map(namespace, configmap(f"page-{i}"))
    first = core_v1.list_namespaced_config_map(namespace, limit=3)
    assert len(first.items) == 3 and first.metadata.var_continue
    assert first.metadata.remaining_item_count == 4
    snapshot_rv = first.metadata.resource_version

    core_v1.create_namespaced_config_map(namespace, configmap("page-9"))  # after the snapshot
    seen = names(first.items)
    token = first.metadata.var_continue
    pages = 1
    while token:
        page = core_v1.list_namespaced_config_map(namespace, limit=3, _continue=token)
        assert page.metadata.resource_version == snapshot_rv, (
            "every page is read at the first page's revision"
        )
        seen += names(page.items)
        token = page.metadata.var_continue
        pages += 1
        assert pages <= 5, "pagination does not end"
    assert sorted(seen) == [f"page-{i}" for i in range(7)]
    assert pages == 3
    assert "page-9" in names(core_v1.list_namespaced_config_map(namespace).items)


def collect(
    core_v1: k8s.CoreV1Api, namespace: str, resource_version: str, count: int
) -> list[dict[str, Any]]:
    """The first ``count`` events after ``resource_version``; bounded by the server's timeout."""
    events: list[dict[str, Any]] = []
    w = watch.Watch()
    for event in w.stream(
        core_v1.list_namespaced_config_map,
        namespace,
        resource_version=resource_version,
        timeout_seconds=WATCH_TIMEOUT_S,
        _request_timeout=WATCH_TIMEOUT_S + 5,
    ):
        events.append(event)
        if len(events) == count:
            w.stop()
    return events


def test_watch_resumes_from_resource_version(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    created = core_v1.create_namespaced_config_map(namespace, configmap("w", k="0"))
    start_rv = created.metadata.resource_version
    for value in ("1", "2"):
        core_v1.patch_namespaced_config_map("w", namespace, {"data": {"k": value}}, _content_type=MERGE_PATCH)
    core_v1.create_namespaced_config_map(namespace, configmap("w2"))

    events = collect(core_v1, namespace, start_rv, 3)
    summary = [
        (e["type"], e["raw_object"]["metadata"]["name"], (e["raw_object"].get("data") or {}).get("k"))
        for e in events
    ]
    assert summary == [("MODIFIED", "w", "1"), ("MODIFIED", "w", "2"), ("ADDED", "w2", None)]
    revisions = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events]
    assert revisions == sorted(revisions) and revisions[0] > int(start_rv)

    core_v1.delete_namespaced_config_map("w", namespace)
    resumed = collect(core_v1, namespace, str(revisions[-1]), 1)
    assert [(e["type"], e["raw_object"]["metadata"]["name"]) for e in resumed] == [("DELETED", "w")]


WATCH_HISTORY = 3  # events the server keeps per resource for resumption (--watch-history)


@pytest.fixture
def short_history_server(tmp_path: Path) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path, extra_args=["--watch-history", str(WATCH_HISTORY)])
    try:
        yield server
    finally:
        server.stop()


def test_watch_from_forgotten_revision_gets_410(short_history_server: ApiServerProcess) -> None:
    core_v1 = k8s.CoreV1Api(k8s.ApiClient(k8s.Configuration(host=short_history_server.url)))
    old = core_v1.create_namespaced_config_map("default", configmap("old", k="0"))
    for value in range(1, WATCH_HISTORY + 3):
        core_v1.patch_namespaced_config_map(
            "old", "default", {"data": {"k": str(value)}}, _content_type=MERGE_PATCH
        )
    with pytest.raises(k8s.ApiException) as expired:
        collect(core_v1, "default", old.metadata.resource_version, 1)
    assert expired.value.status == 410, f"expected 410 Gone, got {expired.value}"

    # The way out, as client-go's reflector does it: relist, then watch from the list's revision.
    listed = core_v1.list_namespaced_config_map("default")
    core_v1.delete_namespaced_config_map("old", "default")
    events = collect(core_v1, "default", listed.metadata.resource_version, 1)
    assert [(e["type"], e["raw_object"]["metadata"]["name"]) for e in events] == [("DELETED", "old")]
