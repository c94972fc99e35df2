"""Health and metrics endpoints of a running server.

Covers: ``/livez``, ``/readyz``, ``/healthz`` answer 200 ``ok``; ``?verbose`` lists each named
check and ``?exclude=`` skips one, as upstream's healthz handler; a named check answers alone
(``/readyz/etcd``) and an unknown one is a 404; ``/metrics`` exposes ``apiserver_request_total``
labelled with verb, resource and code for requests just made (including a 404) and the
``apiserver_request_duration_seconds`` histogram.
Leaves out: failing checks (etcd down: test_api_etcd.py) and an unready server.
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


async def test_verbose_health_lists_the_named_checks(api: Api) -> None:
    reply = await api.get("/readyz", params={"verbose": ""})
    assert reply.status == 200
    assert reply.raw.decode().splitlines() == [
        "[+]ping ok", "[+]etcd ok", "[+]informer-sync ok", "readyz check passed"]
    assert (await api.get("/livez", params={"verbose": ""})).raw.decode().splitlines() == [
        "[+]ping ok", "[+]etcd ok", "livez check passed"]
    excluded = await api.get("/healthz", params={"verbose": "", "exclude": "etcd,nothing"})
    assert excluded.raw.decode().splitlines() == [
        "[+]ping ok", "[+]etcd excluded: ok",
        'warn: some health checks cannot be excluded: no matches for "nothing"', "healthz check passed"]


async def test_one_named_check_answers_alone(api: Api) -> None:
    for path in ("/readyz/etcd", "/livez/etcd", "/readyz/informer-sync", "/healthz/ping"):
        reply = await api.get(path)
        assert (reply.status, reply.raw) == (200, b"ok"), path
    assert (await api.get("/readyz/no-such-check")).status == 404
    assert (await api.get("/livez/informer-sync")).status == 404  # a readiness check only


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
