"""Where a component finds the API server and how it proves who it is: the kubeconfig.

Every component (controller manager, scheduler, kubelet, tests) is started with a kubeconfig, as
upstream's are (client-go ``tools/clientcmd``), and so are a tenant partition's API server's links
to the resource partitions (``--resource-providers``); hence this lives in the shared vocabulary
(``client.config`` re-exports it). This module reads the subset of that file format we
use — the current context's cluster (server URL, possibly with a path prefix such as
``/tenants/acme`` — ARKTOS.md §1), the CA, client certificate and key (as files or inline base64
``*-data``), a bearer token or token file, ``insecure-skip-tls-verify`` — into a frozen
`ClientConfig`, and builds the `ssl.SSLContext` the HTTP client uses. Inline certificates are
written to private temporary files because ``ssl`` only loads client certificates from paths.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


class KubeconfigError(ValueError):
    """The kubeconfig is missing, malformed or names a context/cluster/user that is not there."""


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything the HTTP client needs to reach and authenticate to one API server."""

    server: str  # scheme://host:port[/path-prefix], without a trailing slash
    ca_file: str | None = None
    ca_data: bytes | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    token: str | None = None
    insecure_skip_tls_verify: bool = False
    user_agent: str = "arktos-py"

    @property
    def is_tls(self) -> bool:
        return urlsplit(self.server).scheme == "https"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings for ``https`` servers (None for plain HTTP)."""
        if not self.is_tls:
            return None
        if self.insecure_skip_tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_file or self.ca_data:
            context = ssl.create_default_context(
                cafile=self.ca_file,
                cadata=self.ca_data.decode() if self.ca_data else None,
            )
        else:
            context = ssl.create_default_context()
        if self.client_cert_file:
            context.load_cert_chain(self.client_cert_file, self.client_key_file)
        return context

    def auth_headers(self) -> dict[str, str]:
        """Headers sent with every request (the token is never logged)."""
        headers = {"User-Agent": self.user_agent}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def config_for_url(server: str, *, token: str | None = None) -> ClientConfig:
    """A config for a server URL alone (tests, plain-HTTP development servers)."""
    return ClientConfig(server=server.rstrip("/"), token=token)


def config_from_flags(kubeconfig: str | None, master: str | None) -> ClientConfig:
    """A component's ``--kubeconfig`` if given, else its ``--master`` URL (no credentials)."""
    if kubeconfig:
        return load_kubeconfig(kubeconfig)
    if not master:
        raise KubeconfigError("neither --kubeconfig nor --master given")
    return config_for_url(master)


def load_kubeconfig(path: str | os.PathLike[str], *, context: str | None = None) -> ClientConfig:
    """Read ``path`` and resolve ``context`` (default: ``current-context``) into a `ClientConfig`.

    Relative file paths inside the kubeconfig are resolved against its directory, as clientcmd does.
    """
    kubeconfig_path = Path(path)
    try:
        document = yaml.safe_load(kubeconfig_path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise KubeconfigError(f"cannot read kubeconfig {kubeconfig_path}: {e}") from e
    if not isinstance(document, dict):
        raise KubeconfigError(f"kubeconfig {kubeconfig_path} is not a mapping")
    base_dir = kubeconfig_path.resolve().parent
    context_name = context or document.get("current-context")
    if not context_name:
        raise KubeconfigError(f"kubeconfig {kubeconfig_path} has no current-context")
    ctx = _named_entry(document, "contexts", "context", str(context_name))
    cluster = _named_entry(document, "clusters", "cluster", str(ctx.get("cluster", "")))
    user = _named_entry(document, "users", "user", str(ctx["user"])) if ctx.get("user") else {}
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f"cluster of context {context_name!r} has no server")
    cert_file, key_file = _client_certificate(user, base_dir)
    return ClientConfig(
        server=server.rstrip("/"),
        ca_file=_path(cluster.get("certificate-authority"), base_dir),
        ca_data=_decoded(cluster.get("certificate-authority-data")),
        client_cert_file=cert_file,
        client_key_file=key_file,
        token=_token(user, base_dir),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def _named_entry(document: dict[str, Any], section: str, field: str, name: str) -> dict[str, Any]:
    for entry in document.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(field) or {}
            if not isinstance(value, dict):
                raise KubeconfigError(f"{section} entry {name!r} is malformed")
            return value
    raise KubeconfigError(f"kubeconfig has no {field} named {name!r}")


def _path(value: object, base_dir: Path) -> str | None:
    if not value:
        return None
    path = Path(str(value))
    return str(path if path.is_absolute() else base_dir / path)


def _decoded(value: object) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as e:
        raise KubeconfigError(f"invalid base64 in kubeconfig: {e}") from e


def _token(user: dict[str, Any], base_dir: Path) -> str | None:
    if user.get("token"):
        return str(user["token"])
    token_file = _path(user.get("tokenFile"), base_dir)
    if token_file is None:
        return None
    try:
        return Path(token_file).read_text().strip()
    except OSError as e:
        raise KubeconfigError(f"cannot read tokenFile {token_file}: {e}") from e


def _client_certificate(user: dict[str, Any], base_dir: Path) -> tuple[str | None, str | None]:
    """Paths of the client certificate and key; inline data is spilled into private temp files."""
    cert_file = _path(user.get("client-certificate"), base_dir)
    key_file = _path(user.get("client-key"), base_dir)
    cert_data = _decoded(user.get("client-certificate-data"))
    key_data = _decoded(user.get("client-key-data"))
    if cert_data is not None:
        cert_file = _private_temp_file(cert_data, suffix=".crt")
    if key_data is not None:
        key_file = _private_temp_file(key_data, suffix=".key")
    if (cert_file is None) != (key_file is None):
        raise KubeconfigError("client certificate and client key must be given together")
    return cert_file, key_file


def _private_temp_file(data: bytes, *, suffix: str) -> str:
    # mkstemp creates the file mode 0600, so a key never becomes readable by others.
    fd, name = tempfile.mkstemp(prefix="arktos-kubeconfig-", suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return name
