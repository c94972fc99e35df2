"""The DNS reflector's list/watch loop against an in-memory fake API client (the real API server
drives it in the component test): events reach the sink, a 410 lists again, other failures back
off and retry; and the API connection settings (in-cluster, JSON kubeconfig)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from clusterdns import reflector
from clusterdns.apiclient import ApiConfig, ApiError, Expired, in_cluster_config, kubeconfig_config
from clusterdns.cache import ClusterCache
from clusterdns.reflector import SERVICES, Reflector


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def replace(self, kind: str, items: list[dict[str, Any]]) -> None:
        self.calls.append(("replace", kind, ",".join(i["metadata"]["name"] for i in items)))

    def apply(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        self.calls.append(("apply", kind, event_type, obj["metadata"]["name"]))


class ScriptedClient:
    """Lists return the next scripted list; watches play the next script (events, then a failure
    or the end of the stream); when the scripts run out the reflector is stopped."""

    def __init__(self, lists: list[list[str]], watches: list[list[Any]], stop: threading.Event) -> None:
        self.lists, self.watches, self.stop = lists, watches, stop
        self.watched_from: list[str] = []

    def list(self, path: str) -> tuple[list[dict[str, Any]], str]:
        if not self.lists:
            self.stop.set()
            raise ApiError("script over")
        names = self.lists.pop(0)
        return [{"metadata": {"name": n, "resourceVersion": "5"}} for n in names], "10"

    def watch(self, path: str, resource_version: str) -> Iterator[dict[str, Any]]:
        self.watched_from.append(resource_version)
        if not self.watches:
            self.stop.set()
            return
        for step in self.watches.pop(0):
            if isinstance(step, Exception):
                raise step
            yield step


def event(event_type: str, name: str, version: str) -> dict[str, Any]:
    return {"type": event_type, "object": {"metadata": {"name": name, "resourceVersion": version}}}


def run(client: ScriptedClient, stop: threading.Event) -> RecordingSink:
    sink = RecordingSink()
    deliver: Callable[[Callable[[], None]], None] = lambda callback: callback()  # noqa: E731
    Reflector(client, SERVICES, sink, deliver=deliver, stop=stop).run()  # type: ignore[arg-type]
    return sink


def test_list_then_watch_from_the_last_version_seen() -> None:
    stop = threading.Event()
    client = ScriptedClient([["a"]], [[event("ADDED", "b", "11"), {"type": "BOOKMARK", "object": {
        "metadata": {"resourceVersion": "15"}}}], [event("DELETED", "a", "16")]], stop)
    sink = run(client, stop)
    assert sink.calls == [("replace", "Service", "a"), ("apply", "Service", "ADDED", "b"),
                          ("apply", "Service", "DELETED", "a")]
    assert client.watched_from == ["10", "15", "16"]


def test_expired_watch_lists_again() -> None:
    stop = threading.Event()
    client = ScriptedClient([["a"], ["a", "c"]], [[Expired("gone", code=410)]], stop)
    sink = run(client, stop)
    replaced = [c[2] for c in sink.calls if c[0] == "replace"]
    assert replaced == ["a", "a,c"]


def test_other_failures_back_off_and_retry(monkeypatch: Any) -> None:
    monkeypatch.setattr(reflector, "BACKOFF_INITIAL_S", 0.01)
    stop = threading.Event()
    client = ScriptedClient([["a"], ["b"]], [[ApiError("connection reset")]], stop)
    sink = run(client, stop)
    assert [c[2] for c in sink.calls if c[0] == "replace"] == ["a", "b"]


def test_in_cluster_config_reads_the_service_environment() -> None:
    config = in_cluster_config({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"})
    assert config.server == "https://10.0.0.1:443"
    assert str(config.token_file) == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert str(config.ca_file) == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


def test_json_kubeconfig_current_context(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    path = tmp_path / "kubeconfig.json"
    path.write_text(json.dumps({
        "current-context": "dns",
        "contexts": [{"name": "other", "context": {"cluster": "x", "user": "x"}},
                     {"name": "dns", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443",
                                               "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}}]}))
    config = kubeconfig_config(path)
    assert config == ApiConfig(server="https://127.0.0.1:6443", token_file=tmp_path / "token",
                               ca_file=tmp_path / "ca.crt")
    assert config.token() == "abc"


def test_ready_once_services_endpointslices_and_pods_are_listed() -> None:
    cache = ClusterCache()
    cache.replace("Service", [])
    cache.replace("Pod", [])
    assert not cache.ready
    cache.replace("EndpointSlice", [])
    assert cache.ready
