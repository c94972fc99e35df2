"""The partition flags of ``python -m server`` (server.partition_flags, parsed by server.main).

Covers: upstream's defaults (X-Remote-User, X-Remote-Group, X-Remote-Extra-; no allowed names);
comma lists trimmed with empty entries dropped; no request-header authentication without
``--requestheader-client-ca-file``; a CA file that is missing or holds no certificate, and a
``--resource-providers`` kubeconfig that cannot be read, stop the server with the flag's name
(SystemExit, no traceback); readable kubeconfigs loaded in order.
Leaves out: the behaviour behind the flags (test_requestheader.py, the component tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pki.certificates import ensure_ca
from server.main import parse_args
from server.partition_flags import request_header_config, resource_providers

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:%d"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_defaults_are_upstreams(tmp_path: Path) -> None:
    assert request_header_config(parse_args([])) is None
    ca = ensure_ca(tmp_path, stem="front-proxy-ca").cert_path
    config = request_header_config(parse_args(["--requestheader-client-ca-file", str(ca)]))
    assert config is not None
    assert (config.allowed_names, config.username_headers, config.group_headers,
            config.extra_header_prefixes) == ((), ("X-Remote-User",), ("X-Remote-Group",),
                                              ("X-Remote-Extra-",))


def test_comma_lists(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path, stem="front-proxy-ca").cert_path
    config = request_header_config(parse_args([
        "--requestheader-client-ca-file", str(ca), "--requestheader-allowed-names", " a, ,b ",
        "--requestheader-username-headers", "X-A,X-B"]))
    assert config is not None
    assert (config.allowed_names, config.username_headers) == (("a", "b"), ("X-A", "X-B"))


def test_unusable_files_stop_the_server(tmp_path: Path) -> None:
    (tmp_path / "empty.crt").write_text("")
    for path in (tmp_path / "missing.crt", tmp_path / "empty.crt"):
        with pytest.raises(SystemExit, match="--requestheader-client-ca-file"):
            request_header_config(parse_args(["--requestheader-client-ca-file", str(path)]))
    with pytest.raises(SystemExit, match=r"--resource-providers .*missing\.kubeconfig"):
        resource_providers(parse_args(["--resource-providers", str(tmp_path / "missing.kubeconfig")]))


def test_resource_providers_load_in_order(tmp_path: Path) -> None:
    paths = []
    for port in (1, 2):
        paths.append(tmp_path / f"rp{port}.kubeconfig")
        paths[-1].write_text(KUBECONFIG % port)
    loaded = resource_providers(parse_args(["--resource-providers", ",".join(map(str, paths))]))
    assert [(name, config.server, config.token) for name, config in loaded] == [
        (str(paths[0]), "https://127.0.0.1:1", "t"), (str(paths[1]), "https://127.0.0.1:2", "t")]
