"""The gateway's flags and the settings they become.

Flag names are the contract every room of issue 13 builds against (kube-apiserver's names where one
exists: ``--client-ca-file``, ``--proxy-client-cert-file``, ...). Partitions are given in index order
(``--tenant-partition tp0=https://127.0.0.1:6444`` first): a tenant's ``spec.storageClusterId`` is
the index of its TP in that list.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class PartitionAddress:
    """One partition's name (``tp0``, ``rp1``) and base URL."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    bind_address: str
    secure_port: int
    tls_cert_file: str
    tls_private_key_file: str
    client_ca_file: str
    token_auth_file: str
    service_account_key_files: tuple[str, ...]
    proxy_client_cert_file: str
    proxy_client_key_file: str
    tenant_partitions: tuple[PartitionAddress, ...]
    resource_partitions: tuple[PartitionAddress, ...]
    partition_ca_file: str
    partition_kubeconfig: str
    max_request_body_bytes: int
    log_level: str
    access_log: bool = False


def partition_address(text: str) -> PartitionAddress:
    """``NAME=URL`` with an http(s) URL (argparse type)."""
    name, sep, url = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=URL, got {text!r}")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{name}: not an http(s) URL: {url!r}")
    return PartitionAddress(name.strip(), url.strip().rstrip("/"))


def parse_args(argv: list[str] | None = None) -> GatewayConfig:
    parser = argparse.ArgumentParser(prog="python -m gateway",
                                     description="Arktos API gateway in front of TP and RP API servers")
    serving = parser.add_argument_group("serving")
    serving.add_argument("--bind-address", default="127.0.0.1")
    serving.add_argument("--secure-port", type=int, default=6443)
    serving.add_argument("--tls-cert-file", required=True)
    serving.add_argument("--tls-private-key-file", required=True)
    serving.add_argument("--max-request-body-bytes", type=int, default=3 * 1024 * 1024,
                         help="largest request body forwarded (the API server's limit: 3 MiB)")
    auth = parser.add_argument_group("identities (for routing and forwarding; partitions authorize)")
    auth.add_argument("--client-ca-file", default="", help="CA that signs client certificates")
    auth.add_argument("--token-auth-file", default="",
                      help='static tokens, rows: token,user,uid,"groups",,tenant (the tenant routes)')
    auth.add_argument("--service-account-key-file", action="append", default=[],
                      help="public key(s) that verify service-account tokens (tenant claim for routing)")
    auth.add_argument("--proxy-client-cert-file", default="",
                      help="front-proxy client certificate presented with X-Remote-* headers")
    auth.add_argument("--proxy-client-key-file", default="")
    partitions = parser.add_argument_group("partitions")
    partitions.add_argument("--tenant-partition", action="append", type=partition_address, default=[],
                            metavar="NAME=URL", help="a tenant partition, repeat in index order (tp0 first)")
    partitions.add_argument("--resource-partition", action="append", type=partition_address, default=[],
                            metavar="NAME=URL", help="a resource partition, repeat in index order")
    partitions.add_argument("--partition-ca-file", default="", help="CA of the partitions' serving certs")
    partitions.add_argument("--partition-kubeconfig", default="",
                            help="credentials (system:masters) for the gateway's own tenant/node watches")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--access-log", action="store_true", help="log every request (costs speed)")
    args = parser.parse_args(argv)
    if not args.tenant_partition:
        parser.error("at least one --tenant-partition is required")
    return GatewayConfig(
        bind_address=args.bind_address, secure_port=args.secure_port,
        tls_cert_file=args.tls_cert_file, tls_private_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file, token_auth_file=args.token_auth_file,
        service_account_key_files=tuple(args.service_account_key_file),
        proxy_client_cert_file=args.proxy_client_cert_file, proxy_client_key_file=args.proxy_client_key_file,
        tenant_partitions=tuple(args.tenant_partition),
        resource_partitions=tuple(args.resource_partition or args.tenant_partition[:1]),
        partition_ca_file=args.partition_ca_file, partition_kubeconfig=args.partition_kubeconfig,
        max_request_body_bytes=args.max_request_body_bytes, log_level=args.log_level,
        access_log=args.access_log)
