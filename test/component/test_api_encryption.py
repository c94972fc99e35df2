"""Secrets at rest: a real server with ``--encryption-provider-config``, checked in its SQLite file.

Covers: a Secret's row in the store file (opened with sqlite3, the raw file and WAL searched too)
is ciphertext with upstream's ``k8s:enc:aesgcm:v1:key1:`` prefix while GET, LIST and WATCH answer
plaintext, in tenant ``system`` and in another tenant; ConfigMaps stay plain; plaintext written
before encryption was turned on stays readable; upstream's rotation procedure (new key first,
restart, ``kubectl get secrets -A -o json | kubectl replace -f -`` per tenant with stock kubectl,
old key removed, restart) leaves every secret under the new key; a secret that does not decrypt
answers upstream's 500 ("Internal error occurred: unable to transform key ...: failed to
decrypt ...") for GET, LIST, update and delete while the server keeps serving everything else
and new secrets; a bad configuration file stops the server at start-up with a message naming
the field. Leaves out the transformers' own edge cases (test/unit/test_encryption_at_rest.py)
and arktos-up's generated configuration (test/e2e/test_arktos_up.py).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apiserver_process import REPO_ROOT, ApiServerProcess, free_port, start_apiserver, write_kubeconfig
from component_http import REQUEST_TIMEOUT_S, Api

VENV_KUBECTL = REPO_ROOT / ".venv" / "bin" / "kubectl"
SECRETS = "/api/v1/tenants/{tenant}/namespaces/default/secrets"
TENANTS = ("system", "acme")


def key_entry(name: str, raw: bytes) -> str:
    return f"      - name: {name}\n        secret: {base64.b64encode(raw).decode()}\n"


def write_config(path: Path, *providers: str) -> Path:
    """An EncryptionConfiguration for secrets with ``providers`` (YAML fragments), mode 0600."""
    body = "".join(providers)
    path.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                    f"- resources: [secrets]\n  providers:\n{body}")
    path.chmod(0o600)
    return path


def provider(kind: str, *keys: tuple[str, bytes]) -> str:
    return f"  - {kind}:\n      keys:\n" + "".join(key_entry(name, raw) for name, raw in keys)


IDENTITY = "  - identity: {}\n"


def stored_rows(server: ApiServerProcess, prefix: str) -> dict[str, bytes]:
    """The latest stored value of every live key under ``prefix``, read from the file itself."""
    with sqlite3.connect(server.data_dir / "arktos.db") as conn:
        rows = conn.execute(
            "SELECT name, value, deleted FROM kv_log WHERE id IN "
            "(SELECT MAX(id) FROM kv_log WHERE name LIKE ? GROUP BY name)", (prefix + "%",)).fetchall()
    return {name: bytes(value) for name, value, deleted in rows if not deleted}


def store_bytes(server: ApiServerProcess) -> bytes:
    """Every byte of the store: the database file and its write-ahead log."""
    files = [server.data_dir / "arktos.db", server.data_dir / "arktos.db-wal"]
    return b"".join(f.read_bytes() for f in files if f.exists())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def servers() -> Iterator[list[ApiServerProcess]]:
    started: list[ApiServerProcess] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[ApiServerProcess], workdir: Path, config: Path | None) -> ApiServerProcess:
    args = ("--encryption-provider-config", str(config)) if config else ()
    server = start_apiserver(workdir, extra_args=args)
    servers.append(server)
    return server


def restart(server: ApiServerProcess, config: Path | None) -> None:
    server.stop()
    server.extra_args = ("--encryption-provider-config", str(config)) if config else ()
    server.start()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as s:
        yield s


async def create_tenants(api: Api) -> None:
    for tenant in TENANTS[1:]:
        await api.ok("POST", "/api/v1/tenants", {"metadata": {"name": tenant}})
    for tenant in TENANTS:
        reply = await api.post(f"/api/v1/tenants/{tenant}/namespaces", {"metadata": {"name": "default"}})
        assert reply.status in (201, 409), reply.raw


async def create_secret(api: Api, tenant: str, name: str, value: str) -> dict[str, Any]:
    body = {"metadata": {"name": name}, "data": {"password": base64.b64encode(value.encode()).decode()}}
    created: dict[str, Any] = await api.ok("POST", SECRETS.format(tenant=tenant), body)
    return created


def password(secret: dict[str, Any]) -> str:
    return base64.b64decode(secret["data"]["password"]).decode()


async def password_of(api: Api, tenant: str, name: str) -> str:
    return password(await api.ok("GET", f"{SECRETS.format(tenant=tenant)}/{name}"))


async def test_secrets_are_ciphertext_in_the_store_file_and_plain_through_the_api(
        servers: list[ApiServerProcess], workdir: Path, session: aiohttp.ClientSession) -> None:
    config = write_config(workdir / "enc.yaml", provider("aesgcm", ("key1", os.urandom(32))), IDENTITY)
    server = start(servers, workdir, config)
    api = Api(session, server.url)
    await create_tenants(api)
    marker = f"pw-{uuid.uuid4().hex}"
    watch = await session.get(f"{server.url}/api/v1/tenants/acme/namespaces/default/secrets",
                              params={"watch": "true", "timeoutSeconds": "10"})
    for tenant in TENANTS:
        await create_secret(api, tenant, "db", f"{marker}-{tenant}")
    await api.ok("POST", "/api/v1/tenants/acme/namespaces/default/configmaps",
                 {"metadata": {"name": "settings"}, "data": {"color": f"{marker}-configmap"}})

    rows = stored_rows(server, "/registry/secrets/")
    for tenant in TENANTS:
        value = rows[f"/registry/secrets/{tenant}/default/db"]
        assert value.startswith(b"k8s:enc:aesgcm:v1:key1:"), value[:40]
        got = await api.ok("GET", f"{SECRETS.format(tenant=tenant)}/db")
        assert password(got) == f"{marker}-{tenant}"
    everything = store_bytes(server)
    encoded = base64.b64encode(f"{marker}-acme".encode())
    assert marker.encode() + b"-acme" not in everything and encoded not in everything
    assert marker.encode() + b"-configmap" in everything  # ConfigMaps are not encrypted
    assert stored_rows(server, "/registry/configmaps/acme/")[
        "/registry/configmaps/acme/default/settings"].startswith(b"{")
    listed = await api.ok("GET", "/api/v1/tenants/acme/secrets")
    assert [password(s) for s in listed["items"]] == [f"{marker}-acme"]
    first = await watch.content.readline()  # the watch cache's feed is decrypted too
    watch.close()
    assert b'"ADDED"' in first and encoded in first


async def test_rotation_rewrites_every_secret_under_the_new_key(
        servers: list[ApiServerProcess], workdir: Path, session: aiohttp.ClientSession) -> None:
    old, new = os.urandom(32), os.urandom(32)
    server = start(servers, workdir, None)
    api = Api(session, server.url)
    await create_tenants(api)
    await create_secret(api, "acme", "legacy", "from-before-encryption")
    assert stored_rows(server, "/registry/secrets/")["/registry/secrets/acme/default/legacy"].startswith(b"{")

    restart(server, write_config(workdir / "enc-1.yaml", provider("aescbc", ("old", old)), IDENTITY))
    assert await password_of(api, "acme", "legacy") == "from-before-encryption"
    before = {t: await create_secret(api, t, "db", f"secret-of-{t}") for t in TENANTS}
    assert all(v.startswith(b"k8s:enc:aescbc:v1:old:") for k, v in
               stored_rows(server, "/registry/secrets/").items() if not k.endswith("/legacy"))

    # Upstream's procedure: the new key goes first (old kept to read), restart, rewrite everything.
    restart(server, write_config(workdir / "enc-2.yaml", provider("aescbc", ("new", new), ("old", old)),
                                 IDENTITY))
    for tenant in TENANTS:
        rewrite_secrets_with_kubectl(server, workdir, tenant)
    rows = stored_rows(server, "/registry/secrets/")
    assert set(rows) == {"/registry/secrets/acme/default/legacy", "/registry/secrets/acme/default/db",
                         "/registry/secrets/system/default/db"}
    assert all(v.startswith(b"k8s:enc:aescbc:v1:new:") for v in rows.values()), rows

    # The old key and identity removed: everything still reads.
    restart(server, write_config(workdir / "enc-3.yaml", provider("aescbc", ("new", new))))
    for tenant in TENANTS:
        after = await api.ok("GET", f"{SECRETS.format(tenant=tenant)}/db")
        assert password(after) == f"secret-of-{tenant}"
        assert after["metadata"]["uid"] == before[tenant]["metadata"]["uid"]
        assert int(after["metadata"]["resourceVersion"]) > int(before[tenant]["metadata"]["resourceVersion"])
    assert await password_of(api, "acme", "legacy") == "from-before-encryption"


def rewrite_secrets_with_kubectl(server: ApiServerProcess, workdir: Path, tenant: str) -> None:
    """``kubectl get secrets -A -o json | kubectl replace --validate=false -f -`` inside one tenant,
    as documented: the kubeconfig's server URL ends in ``/tenants/{tenant}``. (kubectl validates a
    ``List`` client-side against the protobuf /openapi/v2, which this server does not serve.)"""
    kubeconfig = write_kubeconfig(workdir / f"{tenant}.kubeconfig", f"{server.url}/tenants/{tenant}")
    base = [str(VENV_KUBECTL), f"--kubeconfig={kubeconfig}", f"--cache-dir={workdir / 'kubectl-cache'}"]
    listed = subprocess.run([*base, "get", "secrets", "-A", "-o", "json"], capture_output=True, text=True,
                            timeout=60, check=True)
    replaced = subprocess.run([*base, "replace", "--validate=false", "-f", "-"], input=listed.stdout,
                              capture_output=True, text=True, timeout=60)
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stdout.count("replaced") >= 1, replaced.stdout


async def test_undecryptable_secrets_answer_500_and_the_server_keeps_serving(
        servers: list[ApiServerProcess], workdir: Path, session: aiohttp.ClientSession) -> None:
    server = start(servers, workdir,
                   write_config(workdir / "a.yaml", provider("aesgcm", ("key1", os.urandom(32)))))
    api = Api(session, server.url)
    await create_tenants(api)
    await create_secret(api, "acme", "lost", "gone-with-the-key")
    await api.ok("POST", "/api/v1/tenants/acme/namespaces/default/configmaps", {"metadata": {"name": "cm"}})
    # Same key name, different key: nothing stored under it can be decrypted any more.
    restart(server, write_config(workdir / "b.yaml", provider("aesgcm", ("key1", os.urandom(32)))))
    path = f"{SECRETS.format(tenant='acme')}/lost"
    for method, where, body in (("GET", path, None), ("GET", SECRETS.format(tenant="acme"), None),
                                ("PUT", path, {"metadata": {"name": "lost"}, "data": {}}),
                                ("DELETE", path, None)):
        reply = await api.request(method, where, body)
        assert reply.status == 500, (method, where, reply.raw)
        status = reply.body
        assert status["kind"] == "Status" and status["reason"] == "InternalError", status
        assert status["message"].startswith(
            'Internal error occurred: unable to transform key "/registry/secrets/acme/default/lost": '
            "failed to decrypt"), status
    assert server.process is not None and server.process.poll() is None
    assert (await api.get("/healthz")).status == 200
    assert (await api.get("/api/v1/tenants/acme/namespaces/default/configmaps/cm")).status == 200
    await create_secret(api, "acme", "fresh", "written-with-the-new-key")
    assert await password_of(api, "acme", "fresh") == "written-with-the-new-key"
    assert (await api.get(SECRETS.format(tenant="system"))).status == 200  # another prefix still lists


@pytest.mark.parametrize(("content", "message"), [
    (None, "error opening encryption provider configuration file"),
    ("", "is empty"),
    ("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
     "- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n"
     "      - name: k\n        secret: c2hvcnQ=\n",
     "resources[0].providers[0].aescbc.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the "
     "expected length, got 5"),
    ("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
     "- resources: [secrets]\n  providers:\n  - rot13: {}\n", "unknown field"),
])
def test_a_bad_configuration_stops_the_server_with_a_clear_message(
        workdir: Path, content: str | None, message: str) -> None:
    config = workdir / "enc.yaml"
    if content is not None:
        config.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "server", "--data-dir", str(workdir / "data"), "--port", str(free_port()),
         "--encryption-provider-config", str(config)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"--encryption-provider-config {config}: " in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
