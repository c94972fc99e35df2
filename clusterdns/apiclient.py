"""A small Kubernetes API client on the standard library (http.client, ssl, json).

The DNS image carries Debian's python3 and python3-dnslib only, so this package cannot use the
repository's aiohttp client. It needs two calls: a list (one JSON document) and a watch (a chunked
stream of newline-delimited JSON events), both blocking — the reflectors run them in threads.
Connection settings come from the pod's in-cluster config (the automounted service-account token
and ca.crt, KUBERNETES_SERVICE_HOST/PORT, as client-go's rest.InClusterConfig), from a JSON
kubeconfig (the image has no yaml module), or from explicit flags.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ApiError(Exception):
    """The API server answered with a failure status (or not at all)."""

    def __init__(self, message: str, *, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class Expired(ApiError):
    """410 Gone: the resourceVersion is older than the server's watch history; list again."""


@dataclass(frozen=True)
class ApiConfig:
    """Where the API server is and how to authenticate; the token file is re-read on every
    connection, as the kubelet rotates the projected token."""

    server: str
    token_file: Path | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    insecure: bool = False

    def token(self) -> str | None:
        if self.token_file is None:
            return None
        return self.token_file.read_text().strip() or None


def in_cluster_config(environ: dict[str, str] | None = None) -> ApiConfig:
    """client-go's InClusterConfig: the service host/port from the environment, the token and CA
    from the service-account mount."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ApiError("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset")
    if ":" in host:
        host = f"[{host}]"
    return ApiConfig(server=f"https://{host}:{port}", token_file=SERVICE_ACCOUNT_DIR / "token",
                     ca_file=SERVICE_ACCOUNT_DIR / "ca.crt")


def kubeconfig_config(path: Path) -> ApiConfig:
    """The current context's server and credentials from a JSON kubeconfig (files only: tokens
    through ``tokenFile``, certificates through ``client-certificate``/``client-key``)."""
    document = json.loads(path.read_text())
    contexts = {c["name"]: c["context"] for c in document.get("contexts", [])}
    context = contexts[document["current-context"]]
    cluster = {c["name"]: c["cluster"] for c in document.get("clusters", [])}[context["cluster"]]
    user = {u["name"]: u["user"] for u in document.get("users", [])}.get(context.get("user", ""), {})

    def relative(value: str | None) -> Path | None:
        return None if not value else (path.parent / value)

    return ApiConfig(server=cluster["server"], ca_file=relative(cluster.get("certificate-authority")),
                     insecure=bool(cluster.get("insecure-skip-tls-verify")),
                     token_file=relative(user.get("tokenFile")),
                     client_cert=relative(user.get("client-certificate")),
                     client_key=relative(user.get("client-key")))


class ApiClient:
    """Blocking list and watch against one API server."""

    def __init__(self, config: ApiConfig, *, timeout: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout
        parts = urlsplit(config.server)
        self._scheme, self._host, self._port = parts.scheme, parts.hostname or "", parts.port
        self._prefix = parts.path.rstrip("/")
        self._ssl = self._ssl_context() if self._scheme == "https" else None

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.config.ca_file) if self.config.ca_file else None)
        if self.config.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.config.client_cert is not None:
            context.load_cert_chain(self.config.client_cert, self.config.client_key)
        return context

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _open(self, path: str, query: dict[str, str], *, timeout: float | None
              ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        connection = self._connection(timeout)
        headers = {"Accept": "application/json", "User-Agent": "clusterdns/0.1"}
        token = self.config.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = f"{self._prefix}{path}?{urlencode(query)}" if query else f"{self._prefix}{path}"
        try:
            connection.request("GET", url, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as e:
            connection.close()
            raise ApiError(f"GET {path}: {e}") from e
        if response.status != 200:
            body = response.read(2000)
            connection.close()
            error = Expired if response.status == 410 else ApiError
            raise error(f"GET {path}: {response.status} {body[:300]!r}", code=response.status)
        return connection, response

    def list(self, path: str) -> tuple[list[dict[str, Any]], str]:
        """Every item (following ``continue`` pages) and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        query = {"limit": "500"}
        while True:
            connection, response = self._open(path, query, timeout=self.timeout)
            try:
                document = json.loads(response.read())
            except (OSError, http.client.HTTPException, ValueError) as e:
                raise ApiError(f"GET {path}: {e}") from e
            finally:
                connection.close()
            items.extend(document.get("items") or [])
            metadata = document.get("metadata") or {}
            if not metadata.get("continue"):
                return items, str(metadata.get("resourceVersion", ""))
            query = {"limit": "500", "continue": metadata["continue"]}

    def watch(self, path: str, resource_version: str, *, timeout_seconds: int = 300
              ) -> Iterator[dict[str, Any]]:
        """Watch events from ``resource_version`` until the server ends the stream; an ERROR
        event with code 410 raises Expired."""
        query = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": str(timeout_seconds)}
        connection, response = self._open(path, query, timeout=timeout_seconds + self.timeout)
        try:
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException) as e:
                    raise ApiError(f"watch {path}: {e}") from e
                if not line:
                    return
                if not line.strip():
                    continue
                event: dict[str, Any] = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    error = Expired if status.get("code") == 410 else ApiError
                    message = f"watch {path}: {status.get('message', status)}"
                    raise error(message, code=int(status.get("code", 0)))
                yield event
        finally:
            connection.close()
