"""Health and metrics endpoints of a running server.

Covers: ``/livez``, ``/readyz``, ``/healthz`` answer 200 ``ok``; ``/metrics`` exposes
``apiserver_request_total`` labelled with verb, resource and code for requests just made
(including a 404) and the ``apiserver_request_duration_seconds`` histogram.
Leaves out: individual named health checks (``/readyz/etcd`` style) and an unready server.
"""

from __future__ import annotations

import re

import pytest
from component_http import Api, configmap


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
async def test_health_endpoints(api: Api, path: str) -> None:
    reply = await api.get(path)
    assert reply.status == 200
    assert reply.raw == b"ok"


def _counter(text: str, **labels: str) -> int:
    """The value of the apiserver_request_total sample carrying at least these labels."""
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


async def test_metrics_count_requests_by_verb_resource_and_code(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    before = (await api.get("/metrics")).raw.decode()
    await api.ok("POST", base, configmap("m"))
    await api.ok("GET", f"{base}/m")
    assert (await api.get(f"{base}/missing")).status == 404
    reply = await api.get("/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    text = reply.raw.decode()
    assert "# TYPE apiserver_request_total counter" in text
    for labels in ({"verb": "create", "resource": "configmaps", "code": "201"},
                   {"verb": "get", "resource": "configmaps", "code": "200"},
                   {"verb": "get", "resource": "configmaps", "code": "404"}):
        assert _counter(text, **labels) == _counter(before, **labels) + 1, labels
    assert re.search(r'apiserver_request_duration_seconds_bucket\{verb="create",group="",'
                     r'resource="configmaps",le="\+Inf"\} \d+', text)
