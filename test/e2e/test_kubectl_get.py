"""Stock kubectl `get` in its output forms, with selectors, across namespaces, in chunks, and -w.

Covers: the server-side Table (column headers and cells for configmaps and pods, `-o wide`'s
extra columns), `-o yaml/json/jsonpath` (full objects), `-l` and `--field-selector` filtering
on the server, `-A` (all namespaces of every tenant: NAMESPACE and TENANT columns),
`--chunk-size=2` really paging with `limit`/`continue` (seen in kubectl's -v=6 request log), and
`get -w --output-watch-events` reporting ADDED, MODIFIED and DELETED. Leaves out: `--sort-by`,
custom-columns and server-side printing of other resources (test_kubectl_columns.py).
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import threading
import time
from typing import Any

import pytest
import yaml
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = [pytest.mark.e2e]

# kubernetes 37.x sends a dict PATCH body as json-patch unless told otherwise.
MERGE_PATCH = "application/merge-patch+json"

WATCH_EVENT_TIMEOUT_S = 15.0


def make_configmaps(core_v1: k8s.CoreV1Api, namespace: str, count: int, *, app: str = "demo") -> list[str]:
    names = [f"{app}-{i}" for i in range(count)]
    for i, name in enumerate(names):
        core_v1.create_namespaced_config_map(
            namespace,
            k8s.V1ConfigMap(
                metadata=k8s.V1ObjectMeta(name=name, labels={"app": app, "index": str(i)}),
                data={"k": "v", "i": str(i)},
            ),
        )
    return names


def make_pod(core_v1: k8s.CoreV1Api, namespace: str, name: str) -> None:
    core_v1.create_namespaced_pod(
        namespace,
        k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(name=name, labels={"app": "pod-demo"}),
            spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="main", image="busybox")]),
        ),
    )


def test_get_table(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmaps(core_v1, namespace, 2)
    lines = kubectl.run("get", "configmaps", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    rows = sorted(line.split() for line in lines[1:])
    assert [row[:2] for row in rows] == [["demo-0", "2"], ["demo-1", "2"]]


def test_get_pods_table_and_wide(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_pod(core_v1, namespace, "runner")
    narrow = kubectl.run("get", "pods", "-n", namespace).stdout.splitlines()
    assert narrow[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert narrow[1].split()[:4] == ["runner", "0/1", "Pending", "0"]
    wide = kubectl.run("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert re.split(r"\s{2,}", wide[0].strip()) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    assert wide[1].split()[0] == "runner"


def test_get_yaml_json_jsonpath(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmaps(core_v1, namespace, 2)
    one = yaml.safe_load(kubectl.run("get", "-n", namespace, "configmap", "demo-0", "-o", "yaml").stdout)
    assert one["kind"] == "ConfigMap" and one["apiVersion"] == "v1"
    assert one["metadata"]["namespace"] == namespace and one["data"] == {"k": "v", "i": "0"}

    listed = kubectl.json("get", "-n", namespace, "configmaps")
    assert listed["kind"] == "List"
    assert sorted(item["metadata"]["name"] for item in listed["items"]) == ["demo-0", "demo-1"]
    assert all(item["kind"] == "ConfigMap" for item in listed["items"])

    names = kubectl.run(
        "get", "-n", namespace, "configmaps", "-o", "jsonpath={.items[*].metadata.name}"
    ).stdout
    assert sorted(names.split()) == ["demo-0", "demo-1"]


def test_get_label_and_field_selectors(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmaps(core_v1, namespace, 3)
    make_configmaps(core_v1, namespace, 1, app="other")

    def names(*selector: str) -> list[str]:
        return sorted(
            kubectl.run("get", "-n", namespace, "configmaps", *selector, "-o", "name").stdout.split()
        )

    assert names("-l", "app=demo") == ["configmap/demo-0", "configmap/demo-1", "configmap/demo-2"]
    assert names("-l", "app=demo,index in (0,2)") == ["configmap/demo-0", "configmap/demo-2"]
    assert names("-l", "app!=demo") == ["configmap/other-0"]
    assert names("--field-selector", "metadata.name=demo-1") == ["configmap/demo-1"]
    assert names("--field-selector", "metadata.name!=demo-1", "-l", "app=demo") == [
        "configmap/demo-0",
        "configmap/demo-2",
    ]


def test_get_all_namespaces(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmaps(core_v1, namespace, 1, app="everywhere")
    lines = kubectl.run("get", "configmaps", "-A", "-l", "app=everywhere").stdout.splitlines()
    # The system admin's -A spans every tenant: the server's table adds TENANT after kubectl's NAMESPACE.
    assert lines[0].split()[:3] == ["NAMESPACE", "TENANT", "NAME"]
    assert [namespace, "system", "everywhere-0"] in [line.split()[:3] for line in lines[1:]]


def test_get_chunk_size_pages_through_continue(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api
) -> None:
    expected = make_configmaps(core_v1, namespace, 5)
    result = kubectl.run("get", "-n", namespace, "configmaps", "--chunk-size=2", "-o", "name", "-v=6")
    assert sorted(result.stdout.split()) == [f"configmap/{n}" for n in expected]
    requests = [line for line in result.stderr.splitlines() if "/configmaps?" in line]
    assert any("limit=2" in line and "continue=" not in line for line in requests), result.stderr
    assert sum("continue=" in line for line in requests) == 2, f"5 objects in pages of 2:\n{result.stderr}"


class WatchOutput:
    """Decodes the stream of pretty-printed JSON events that `get -w -o json` writes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        decoder, buffer = json.JSONDecoder(), ""
        for line in self.process.stdout:
            buffer += line
            while buffer.strip():
                try:
                    event, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break
                buffer = buffer.lstrip()[end:]
                self.events.put(event)

    def next(self, what: str) -> dict[str, Any]:
        try:
            return self.events.get(timeout=WATCH_EVENT_TIMEOUT_S)
        except queue.Empty:
            stderr = ""
            if self.process.poll() is not None and self.process.stderr is not None:
                stderr = self.process.stderr.read()
            raise AssertionError(
                f"no watch event ({what}) within {WATCH_EVENT_TIMEOUT_S}s; "
                f"kubectl exit={self.process.poll()} stderr={stderr}"
            ) from None


def test_get_watch_sees_added_modified_deleted(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api
) -> None:
    process = kubectl.popen(
        "get",
        "-n",
        namespace,
        "configmaps",
        "-w",
        "--output-watch-events",
        "-o",
        "json",
        "--request-timeout=60s",
    )
    try:
        watch = WatchOutput(process)
        time.sleep(0.5)  # either way the object is seen: from the initial list or the watch
        make_configmaps(core_v1, namespace, 1, app="watched")
        added = watch.next("ADDED")
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "watched-0"
        # Only after ADDED is the watch surely running, so changes from here on are events.
        core_v1.patch_namespaced_config_map(
            "watched-0", namespace, {"data": {"k": "changed"}}, _content_type=MERGE_PATCH
        )
        modified = watch.next("MODIFIED")
        assert modified["type"] == "MODIFIED" and modified["object"]["data"]["k"] == "changed"
        core_v1.delete_namespaced_config_map("watched-0", namespace)
        deleted = watch.next("DELETED")
        assert deleted["type"] == "DELETED" and deleted["object"]["metadata"]["name"] == "watched-0"
        assert (
            int(added["object"]["metadata"]["resourceVersion"])
            < int(modified["object"]["metadata"]["resourceVersion"])
            < int(deleted["object"]["metadata"]["resourceVersion"])
        )
    finally:
        process.kill()
        process.wait(timeout=10)
