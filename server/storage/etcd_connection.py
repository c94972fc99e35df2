"""How the etcd backend reaches etcd: the storage URL, TLS files, the gRPC channel, and the one
place gRPC failures become the storage layer's exceptions.

``etcd://host:port[,host:port...]`` names the members (kube-apiserver's ``--etcd-servers``
takes the same list as URLs). One member is dialled by name; several become one gRPC channel over
all their addresses (``ipv4:a:p,b:p``) with pick-first failover, so a dead member costs a
reconnect, not an outage. TLS and client certificates are upstream's ``--etcd-cafile``,
``--etcd-certfile`` and ``--etcd-keyfile``.

The messages and stubs are etcd's own (``etcdserverpb``), as generated from etcd's .proto files
and shipped by the ``aetcd`` package; we use its stubs on our own channel because its client has
no TLS, no member list and no revision/limit on ranges.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
from grpc import aio

from server.storage.interface import (
    CompactedError,
    FutureRevisionError,
    StorageError,
    StorageRequestTooLargeError,
    StorageTimeoutError,
    StorageUnavailableError,
)

DEFAULT_PORT = 2379
# Channel options. Reconnect quickly after a member comes back (gRPC's default backoff grows to
# two minutes); keepalive notices a member that stopped answering (upstream's client: 30s/10s);
# no receive limit, because a list of many objects is one response.
_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
)


@dataclass(frozen=True, slots=True)
class EtcdTLS:
    """PEM files for TLS to etcd; all empty: plain gRPC."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.ca_file or self.cert_file or self.key_file)

    def credentials(self) -> grpc.ChannelCredentials:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("--etcd-certfile and --etcd-keyfile go together")

        def read(path: str) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return grpc.ssl_channel_credentials(root_certificates=read(self.ca_file),
                                            private_key=read(self.key_file),
                                            certificate_chain=read(self.cert_file))


@dataclass(frozen=True, slots=True)
class EtcdEndpoints:
    """The members to dial, as (host, port) pairs, in the order given."""

    members: tuple[tuple[str, int], ...]

    def __str__(self) -> str:
        return ",".join(f"{host}:{port}" for host, port in self.members)

    def target(self) -> str:
        """The gRPC target: the member by name, or every member's IPv4 address."""
        if len(self.members) == 1:
            host, port = self.members[0]
            return f"{host}:{port}"
        return "ipv4:" + ",".join(f"{_ipv4(host)}:{port}" for host, port in self.members)


def _ipv4(host: str) -> str:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        return socket.gethostbyname(host)


def parse_etcd_url(url: str) -> EtcdEndpoints:
    """``etcd://h1:p1,h2:p2`` → its members; raises ValueError on anything else."""
    parts = urlsplit(url)
    if parts.scheme != "etcd" or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"etcd storage URL is etcd://host:port[,host:port...]: {url!r}")
    members = []
    for member in parts.netloc.split(","):
        host, _, port = member.rpartition(":") if ":" in member else (member, "", str(DEFAULT_PORT))
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad etcd member {member!r} in {url!r} (expected host:port)")
        members.append((host, int(port)))
    return EtcdEndpoints(tuple(members))


def open_channel(target: str, endpoints: EtcdEndpoints, tls: EtcdTLS) -> aio.Channel:
    """A channel to ``target`` (``endpoints.target()``, resolved off the loop) on the running event
    loop (gRPC's asyncio channels belong to one loop)."""
    options = list(_CHANNEL_OPTIONS)
    if tls.enabled:
        if len(endpoints.members) > 1:
            # Several members share one channel: verify each against the first member's name.
            options.append(("grpc.ssl_target_name_override", endpoints.members[0][0]))
        return aio.secure_channel(target, tls.credentials(), options=options)
    return aio.insecure_channel(target, options=options)


def storage_error(error: aio.AioRpcError, *, revision: int = 0, compacted: int = 0,
                  current: int = 0, write: bool = False) -> StorageError:
    """etcd's gRPC answer as the storage layer's exception (etcd's rpctypes error texts)."""
    code, details = error.code(), error.details() or ""
    if write and code == grpc.StatusCode.UNAVAILABLE and "request timed out" in details:
        # "etcdserver: request timed out[, possibly due to ...]": the proposal may still be
        # applied, so the outcome is unknown — a timeout (504), not "unavailable, retry" (503).
        return StorageTimeoutError(f"etcd did not confirm the write in time: {details}")
    if code == grpc.StatusCode.INVALID_ARGUMENT and "request is too large" in details:
        return StorageRequestTooLargeError(details)
    if code == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
        return CompactedError(revision, max(compacted, revision + 1))
    if code == grpc.StatusCode.OUT_OF_RANGE and "future revision" in details:
        return FutureRevisionError(revision, current)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return StorageTimeoutError(f"etcd did not answer in time: {details}")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
        # CANCELLED: the channel was closed under the call (server shutting down).
        return StorageUnavailableError(f"etcd is unavailable: {details}")
    return StorageError(f"etcd refused the request ({code.name}): {details}")


def is_transient(error: aio.AioRpcError) -> bool:
    """Failures a watch rides out by reconnecting (the member died or lost its leader)."""
    return error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
