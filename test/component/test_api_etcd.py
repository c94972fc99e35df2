"""An API server on a real etcd member: objects live in etcd, and what clients see while it is down.

Covers: a created object is stored in etcd under the same key as in SQLite, with etcd's revision
as its resourceVersion; with etcd killed (SIGKILL), a create and a consistent list answer a 503
``ServiceUnavailable`` Status (with Retry-After) well within the request timeout, ``/readyz``
answers 500 with ``[-]etcd failed: reason withheld`` (``?verbose`` lists every check) and
``/readyz/etcd`` fails alone; after etcd restarts on its data, the server is ready again without a
restart, writes succeed, and a watch opened before the outage carries on with the later events
(no gap, no repeat: what it saw is the final state). Encryption at rest works on etcd: a Secret's
value in etcd is ciphertext with upstream's ``k8s:enc:aescbc:v1:key1:`` prefix, a GET answers
plaintext. An API server reaches an etcd that demands client certificates through
``--etcd-cafile``, ``--etcd-certfile`` and ``--etcd-keyfile``. An object over etcd's
``--max-request-bytes`` (but under the server's own body limit) answers 413
``RequestEntityTooLarge`` with etcd's reason, and nothing is stored.

Leaves out: several API servers on one etcd (the multi-server e2e suite), a stalled etcd (504:
test/storage/test_etcd_failures.py), TLS to etcd (same file).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from apiserver_process import ApiServerProcess, ServerFactory
from component_http import Api, assert_status, configmap, watching
from etcd_process import EtcdProcess, make_tls_files, running_etcd

from server.storage.etcd import EtcdBackend
from server.storage.etcd_connection import parse_etcd_url

pytestmark = pytest.mark.slow

OUTAGE_ANSWER_WITHIN_S = 15.0  # the request timeout is 60 s; an unreachable etcd must not use it up


@pytest.fixture(scope="module")
def etcd_member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    with running_etcd(tmp_path_factory.mktemp("etcd")) as member:
        yield member


@pytest.fixture(scope="module")
def apiserver(server_factory: ServerFactory, etcd_member: EtcdProcess) -> ApiServerProcess:
    """This module's server stores in etcd (overrides the conftest's SQLite one)."""
    return server_factory("--storage", etcd_member.storage_url)


async def test_objects_are_stored_in_etcd_at_etcd_revisions(api: Api, namespace: str,
                                                            etcd_member: EtcdProcess) -> None:
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("cm"))
    store = EtcdBackend(parse_etcd_url(etcd_member.storage_url))
    await store.start()
    try:
        kv = await store.get(f"/registry/configmaps/system/{namespace}/cm")
        current = await store.current_revision()
    finally:
        await store.close()
    assert kv is not None, "the configmap is not in etcd under the SQLite key layout"
    assert created["metadata"]["resourceVersion"] == str(kv.mod_revision)
    assert kv.mod_revision <= current


async def test_secrets_are_encrypted_at_rest_in_etcd(server_factory: ServerFactory, etcd_member: EtcdProcess,
                                                     tmp_path: Path) -> None:
    config = tmp_path / "encryption.yaml"
    key = base64.b64encode(b"k" * 32).decode()
    config.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                      "- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n"
                      f"      - name: key1\n        secret: {key}\n  - identity: {{}}\n")
    server = server_factory("--storage", etcd_member.storage_url, "--encryption-provider-config", str(config))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "at-rest"},
              "stringData": {"password": "plain-text-password"}}
    async with aiohttp.ClientSession() as session:
        api = Api(session, server.url)
        await api.ok("POST", "/api/v1/namespaces/default/secrets", secret)
        read = await api.ok("GET", "/api/v1/namespaces/default/secrets/at-rest")
    assert base64.b64decode(read["data"]["password"]) == b"plain-text-password"
    store = EtcdBackend(parse_etcd_url(etcd_member.storage_url))
    await store.start()
    try:
        kv = await store.get("/registry/secrets/system/default/at-rest")
    finally:
        await store.close()
    assert kv is not None and kv.value.startswith(b"k8s:enc:aescbc:v1:key1:"), kv
    assert b"plain-text-password" not in kv.value


async def test_an_api_server_reaches_etcd_over_tls_with_a_client_certificate(
        server_factory: ServerFactory, tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "pki")
    with running_etcd(tmp_path, tls=files) as member:
        server = server_factory("--storage", member.storage_url, "--etcd-cafile", str(files.ca_file),
                                "--etcd-certfile", str(files.client_cert_file),
                                "--etcd-keyfile", str(files.client_key_file))
        async with aiohttp.ClientSession() as session:
            api = Api(session, server.url)
            created = await api.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("over-tls"))
            ready = await api.get("/readyz", params={"verbose": ""})
        server.stop()
    assert int(created["metadata"]["resourceVersion"]) > 1
    assert "[+]etcd ok" in ready.raw.decode()


async def test_an_object_etcd_finds_too_large_answers_413_and_is_not_stored(
        server_factory: ServerFactory, tmp_path: Path) -> None:
    with running_etcd(tmp_path, extra_args=("--max-request-bytes", "65536")) as member:
        server = server_factory("--storage", member.storage_url)
        big = configmap("too-big")
        big["data"] = {"blob": "x" * 200_000}  # 200 kB: under the API's 3 MiB, over etcd's 64 KiB
        async with aiohttp.ClientSession() as session:
            api = Api(session, server.url)
            status = assert_status(await api.post("/api/v1/namespaces/default/configmaps", big),
                                   413, "RequestEntityTooLarge")
            missing = await api.get("/api/v1/namespaces/default/configmaps/too-big")
            small = await api.post("/api/v1/namespaces/default/configmaps", configmap("small"))
        server.stop()
    assert "etcdserver: request is too large" in status["message"]
    assert missing.status == 404
    assert small.status == 201, small.raw


async def _until_ready(api: Api, *, within: float) -> None:
    deadline = time.monotonic() + within
    while (reply := await api.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, f"not ready {within}s after etcd came back: {reply.raw!r}"
        await asyncio.sleep(0.2)


async def _answers_while_down(api: Api, base: str) -> None:
    started = time.monotonic()
    reply = await api.post(base, configmap("during"))
    status = assert_status(reply, 503, "ServiceUnavailable")
    assert reply.headers["Retry-After"] == "1" and status["details"]["retryAfterSeconds"] == 1
    assert_status(await api.get(base), 503, "ServiceUnavailable")  # a consistent list asks etcd
    assert time.monotonic() - started < OUTAGE_ANSWER_WITHIN_S
    ready = await api.get("/readyz", params={"verbose": ""})
    assert ready.status == 500, ready.raw
    assert ready.raw.decode().splitlines() == [
        "[+]ping ok", "[-]etcd failed: reason withheld", "[+]informer-sync ok", "readyz check failed"]
    assert (await api.get("/readyz/etcd")).status == 500
    assert (await api.get("/readyz/ping")).status == 200


async def test_etcd_down_answers_503_and_everything_recovers(api: Api, namespace: str,
                                                              etcd_member: EtcdProcess) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    verbose = await api.get("/readyz", params={"verbose": ""})
    assert verbose.status == 200 and "[+]etcd ok" in verbose.raw.decode()
    before = await api.ok("POST", base, configmap("before"))
    async with watching(api, base, {"resourceVersion": before["metadata"]["resourceVersion"]}) as stream:
        etcd_member.kill()
        try:
            await _answers_while_down(api, base)
        finally:
            etcd_member.start()
        await _until_ready(api, within=30)
        after = await api.ok("POST", base, configmap("after"))
        await api.ok("DELETE", f"{base}/before")
        events = await stream.events(2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "after"), ("DELETED", "before")]
    assert events[0]["object"]["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    listed = await api.ok("GET", base)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["after"]
