"""The API server flags that let it serve as one partition of a scale-out cluster.

Behind the gateway (docs/design/partition-server.md) a partition's API server needs two things a
single cluster's does not: to believe the gateway about who a certificate user is (upstream's
``--requestheader-*`` flags, with Arktos's ``X-Remote-Tenant``), and, on a tenant partition, to find
a pod's node in the resource partitions (Arktos's ``--resource-providers``). Kept apart from
server.main so the command line stays readable and the flag parsing testable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from apis.kubeconfig import ClientConfig, KubeconfigError, load_kubeconfig
from server.auth.requestheader import (
    DEFAULT_EXTRA_HEADER_PREFIXES,
    DEFAULT_GROUP_HEADERS,
    DEFAULT_USERNAME_HEADERS,
    RequestHeaderConfig,
)
from server.auth.x509 import CertificateAuthorities


def string_slice(value: str) -> list[str]:
    """A Go ``StringSlice`` flag value: comma-separated, each trimmed, empty entries dropped
    (upstream refuses an empty header name; here one cannot arise)."""
    return [item.strip() for item in value.split(",") if item.strip()]


def add_partition_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("partitions (front proxy and resource providers)")
    group.add_argument("--requestheader-client-ca-file", default="",
                       help="CA that signs the front proxy's client certificate; a connection with "
                            "one may name the user in the request headers (default: none trusted)")
    group.add_argument("--requestheader-allowed-names", type=string_slice, default=[],
                       help="CNs the front proxy's certificate may have (comma list; empty: any)")
    group.add_argument("--requestheader-username-headers", type=string_slice,
                       default=list(DEFAULT_USERNAME_HEADERS), help="headers naming the user")
    group.add_argument("--requestheader-group-headers", type=string_slice,
                       default=list(DEFAULT_GROUP_HEADERS), help="headers naming its groups")
    group.add_argument("--requestheader-extra-headers-prefix", type=string_slice,
                       default=list(DEFAULT_EXTRA_HEADER_PREFIXES),
                       help="header prefixes whose headers become the user's extra")
    group.add_argument("--resource-providers", type=string_slice, default=[],
                       help="kubeconfigs of the resource partitions (comma list): a tenant partition's "
                            "server reads its pods' nodes there to reach their kubelets for logs, exec, "
                            "attach and port-forward (empty: nodes from its own store)")


def request_header_config(args: argparse.Namespace) -> RequestHeaderConfig | None:
    """The request-header settings, or None when no ``--requestheader-client-ca-file`` is given
    (upstream turns the authenticator off then, whatever the other flags say)."""
    if not args.requestheader_client_ca_file:
        return None
    try:  # read now, so an unusable file stops the server with its name rather than a traceback
        CertificateAuthorities.load(Path(args.requestheader_client_ca_file))
    except (OSError, ValueError) as e:
        raise SystemExit(f"--requestheader-client-ca-file {args.requestheader_client_ca_file}: {e}") from e
    return RequestHeaderConfig(
        client_ca_file=args.requestheader_client_ca_file,
        allowed_names=tuple(args.requestheader_allowed_names),
        username_headers=tuple(args.requestheader_username_headers),
        group_headers=tuple(args.requestheader_group_headers),
        extra_header_prefixes=tuple(args.requestheader_extra_headers_prefix))


def resource_providers(args: argparse.Namespace) -> tuple[tuple[str, ClientConfig], ...]:
    """Each ``--resource-providers`` kubeconfig, loaded; one that cannot be read stops the server."""
    loaded = []
    for path in args.resource_providers:
        try:
            loaded.append((path, load_kubeconfig(path)))
        except KubeconfigError as e:
            raise SystemExit(f"--resource-providers {path}: {e}") from e
    return tuple(loaded)
