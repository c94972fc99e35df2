"""Kubelet settings and the ``--container-runtime-endpoint`` syntax (ARKTOS.md §5).

Arktos's kubelet takes several runtime endpoints in one flag,
``name,workloadType,url;name,workloadType,url`` with workloadType ``container`` or ``vm``; a bare
URL is one container runtime named ``containerRuntime``. Parsing lives here, apart from the
registry that routes pods, so the flag's grammar is testable without any runtime.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
from dataclasses import dataclass
from typing import Literal

from apis.flags import boolean as boolean_flag
from apis.flags import duration as duration_flag
from kubelet.sysctl_admission import SysctlAllowlist, SysctlConfigError

WorkloadType = Literal["container", "vm"]
AuthorizationMode = Literal["Webhook", "AlwaysAllow"]
WORKLOAD_TYPES: tuple[WorkloadType, ...] = ("container", "vm")
DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock"
HOLLOW_ENDPOINTS = "containerRuntime,container,hollow://;vmRuntime,vm,hollow://"
KUBELET_VERSION = "v1.32.0"


class EndpointSyntaxError(ValueError):
    """The flag value does not follow ``name,workloadType,url;...``."""


@dataclass(frozen=True, slots=True)
class RuntimeEndpoint:
    name: str
    workload_type: WorkloadType
    url: str


def parse_runtime_endpoints(text: str) -> list[RuntimeEndpoint]:
    """The endpoints of ``--container-runtime-endpoint`` in flag order."""
    text = text.strip()
    if not text:
        raise EndpointSyntaxError("empty --container-runtime-endpoint")
    if "," not in text and ";" not in text:
        # Upstream's single-endpoint form, kept working by Arktos.
        return [RuntimeEndpoint("containerRuntime", "container", text)]
    endpoints: list[RuntimeEndpoint] = []
    names: set[str] = set()
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        fields = [f.strip() for f in part.split(",")]
        if len(fields) != 3 or not all(fields):
            raise EndpointSyntaxError(f"endpoint {part!r} is not name,workloadType,url")
        name, workload, url = fields
        if workload not in WORKLOAD_TYPES:
            raise EndpointSyntaxError(f"endpoint {name!r}: workload type {workload!r} is not container or vm")
        if name in names:
            raise EndpointSyntaxError(f"endpoint name {name!r} given twice")
        if "://" not in url:
            raise EndpointSyntaxError(f"endpoint {name!r}: {url!r} is not a URL (unix:///path)")
        names.add(name)
        endpoints.append(RuntimeEndpoint(name, "container" if workload == "container" else "vm", url))
    if not endpoints:
        raise EndpointSyntaxError("no endpoint in --container-runtime-endpoint")
    return endpoints


@dataclass(frozen=True, slots=True)
class KubeletConfig:
    """Everything one kubelet process needs; hollow mode hosts ``nodes`` agents with it."""

    kubeconfig: str | None
    master: str | None
    hostname: str
    endpoints: tuple[RuntimeEndpoint, ...]
    # Arktos's --tenant-server-kubeconfig: the tenant partitions whose pods and Actions this node
    # runs; empty = the --kubeconfig/--master server holds the pods too (one cluster).
    tenant_server_kubeconfigs: tuple[str, ...] = ()
    hollow: bool = False
    nodes: int = 1
    hollow_start_delay_s: float = 0.5
    pod_log_dir: str = "/var/log/pods"  # CRI log files: <dir>/<ns>_<name>_<uid>/<container>/<n>.log
    cgroup_root: str = "/kubepods"  # parent cgroup of every pod
    node_ip: str = ""
    lease_renew_interval_s: float = 10.0
    lease_duration_s: int = 40
    node_status_update_frequency_s: float = 10.0
    node_status_report_frequency_s: float = 300.0
    max_pods: int = 110
    status_writers: int = 16
    log_level: str = "INFO"
    root_dir: str = "/var/lib/kubelet"  # pods/<uid>/volumes/... live here (upstream's --root-dir)
    address: str = "0.0.0.0"  # the streaming/log server's bind address (upstream's --address)
    port: int = 10250  # the streaming/log server's HTTPS port; 0 = no server (hollow nodes)
    tls_cert_file: str = ""  # serving certificate; empty = a self-signed one in root_dir/pki
    tls_private_key_file: str = ""
    client_ca_file: str = ""  # clients (the API server) must present a certificate from this CA
    # Who may use that port (upstream's KubeletConfiguration defaults: token webhook on, Webhook
    # authorization; the caches' TTLs are upstream's flag defaults).
    authentication_token_webhook: bool = True
    token_webhook_cache_ttl_s: float = 120.0
    authorization_mode: AuthorizationMode = "Webhook"
    authorization_cache_authorized_ttl_s: float = 300.0
    authorization_cache_unauthorized_ttl_s: float = 30.0
    seccomp_default: bool = False  # RuntimeDefault seccomp for containers that name no profile
    allowed_unsafe_sysctls: tuple[str, ...] = ()  # beyond the safe sysctls (names or prefix*)
    cluster_dns: tuple[str, ...] = ()  # --cluster-dns: ClusterFirst pods' nameservers
    cluster_domain: str = ""  # --cluster-domain: their search path (<ns>.svc.<domain> ...)
    resolv_conf: str = "/etc/resolv.conf"  # --resolv-conf: the node's resolver (Default pods)

    def node_names(self) -> list[str]:
        """``<hostname>-hollow-<i>`` for a hollow process of several nodes, else the hostname."""
        if not self.hollow or self.nodes == 1:
            return [self.hostname]
        return [f"{self.hostname}-hollow-{i}" for i in range(self.nodes)]


def kubeconfig_list(text: str) -> tuple[str, ...]:
    """``a.kubeconfig,b.kubeconfig`` in flag order; blanks between commas are ignored, as Arktos's
    kubelet splits the flag and skips empty entries."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None = None) -> KubeletConfig:
    parser = argparse.ArgumentParser(prog="python -m kubelet", description="Arktos node agent")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--kubeconfig", help="kubeconfig of the node identity system:node:<name>")
    source.add_argument("--master", help="API server URL (plain HTTP development servers)")
    parser.add_argument("--tenant-server-kubeconfig", default="",
                        help="comma-separated kubeconfigs of the tenant partitions whose pods and Actions "
                             "bound to this node it runs (Arktos scale-out); empty: the --kubeconfig server")
    parser.add_argument("--hostname-override", default="", help="node name (default: the host name)")
    parser.add_argument("--container-runtime-endpoint", default="",
                        help="name,workloadType,url;... (ARKTOS.md §5) or one URL")
    parser.add_argument("--node-ip", default="", help="InternalIP to report (default: detected)")
    parser.add_argument("--hollow", action="store_true", help="simulated runtime, no containers")
    parser.add_argument("--nodes", type=int, default=1, help="hollow nodes hosted by this process")
    parser.add_argument("--hollow-start-delay", type=float, default=0.5,
                        help="seconds a hollow container takes to start")
    parser.add_argument("--pod-log-dir", default="/var/log/pods", help="where CRI writes container logs")
    parser.add_argument("--cgroup-root", default="/kubepods", help="parent cgroup of every pod")
    parser.add_argument("--max-pods", type=int, default=110)
    parser.add_argument("--node-status-update-frequency", type=float, default=10.0)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--root-dir", default="/var/lib/kubelet", help="pod volumes and kubelet state")
    parser.add_argument("--address", default="0.0.0.0", help="bind address of the streaming server")
    parser.add_argument("--port", type=int, default=None,
                        help="HTTPS port of the logs/exec/attach/portforward server (default 10250; "
                             "0 disables it; hollow mode defaults to 0)")
    parser.add_argument("--tls-cert-file", default="", help="serving certificate of the port")
    parser.add_argument("--tls-private-key-file", default="")
    parser.add_argument("--client-ca-file", default="", help="CA that signs the API server's client cert")
    _add_access_flags(parser)
    parser.add_argument("--seccomp-default", action="store_true",
                        help="run containers without a seccompProfile under the runtime's default profile "
                             "(upstream's --seccomp-default; default: Unconfined)")
    parser.add_argument("--allowed-unsafe-sysctls", default="",
                        help="comma-separated unsafe sysctls (or prefix* patterns) pods may set besides "
                             "the safe ones (upstream's flag; default none)")
    _add_dns_flags(parser)
    args = parser.parse_args(argv)
    unsafe_sysctls = tuple(s.strip() for s in args.allowed_unsafe_sysctls.split(",") if s.strip())
    try:
        SysctlAllowlist(unsafe_sysctls)
    except SysctlConfigError as e:
        parser.error(f"--allowed-unsafe-sysctls: {e}")
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    if args.nodes > 1 and not args.hollow:
        parser.error("--nodes needs --hollow")
    flag = args.container_runtime_endpoint or (HOLLOW_ENDPOINTS if args.hollow else DEFAULT_ENDPOINT)
    try:
        endpoints = parse_runtime_endpoints(flag)
    except EndpointSyntaxError as e:
        parser.error(str(e))
    return KubeletConfig(
        kubeconfig=args.kubeconfig, master=args.master,
        hostname=(args.hostname_override or socket.gethostname()).lower(),
        endpoints=tuple(endpoints), hollow=args.hollow, nodes=args.nodes,
        tenant_server_kubeconfigs=kubeconfig_list(args.tenant_server_kubeconfig),
        hollow_start_delay_s=args.hollow_start_delay, node_ip=args.node_ip,
        node_status_update_frequency_s=args.node_status_update_frequency, max_pods=args.max_pods,
        log_level=args.log_level, pod_log_dir=args.pod_log_dir, cgroup_root=args.cgroup_root,
        root_dir=args.root_dir, address=args.address,
        port=args.port if args.port is not None else (0 if args.hollow else 10250),
        tls_cert_file=args.tls_cert_file, tls_private_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file,
        authentication_token_webhook=args.authentication_token_webhook,
        token_webhook_cache_ttl_s=args.authentication_token_webhook_cache_ttl,
        authorization_mode=args.authorization_mode,
        authorization_cache_authorized_ttl_s=args.authorization_webhook_cache_authorized_ttl,
        authorization_cache_unauthorized_ttl_s=args.authorization_webhook_cache_unauthorized_ttl,
        seccomp_default=args.seccomp_default, allowed_unsafe_sysctls=unsafe_sysctls,
        cluster_dns=args.cluster_dns, cluster_domain=args.cluster_domain.strip(".").lower(),
        resolv_conf=args.resolv_conf,
    )


def ip_list(text: str) -> tuple[str, ...]:
    """``10.0.0.10[,fd00::a]``: comma-separated IP addresses, in order."""
    addresses = tuple(part.strip() for part in text.split(",") if part.strip())
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{address!r} is not an IP address") from None
    return addresses


def _add_dns_flags(parser: argparse.ArgumentParser) -> None:
    """Upstream's flags for pods' resolv.conf (`kubelet.pod_dns`) and /etc/hosts (`kubelet.pod_hosts`)."""
    group = parser.add_argument_group("pod DNS")
    group.add_argument("--cluster-dns", type=ip_list, default=(), metavar="IP[,IP]",
                       help="DNS servers of ClusterFirst pods (the cluster DNS Service's IP); none: such "
                            "pods fall back to the node's resolver, with a MissingClusterDNS event")
    group.add_argument("--cluster-domain", default="", metavar="DOMAIN",
                       help="the cluster's DNS domain (cluster.local): pods search <ns>.svc.DOMAIN, "
                            "svc.DOMAIN and DOMAIN")
    group.add_argument("--resolv-conf", default="/etc/resolv.conf", metavar="PATH",
                       help='the node resolver configuration pods inherit (default /etc/resolv.conf; "" '
                            "gives Default pods no resolver but 127.0.0.1)")


def _add_access_flags(parser: argparse.ArgumentParser) -> None:
    """Upstream's flags for who may use the HTTPS port (kubelet/streaming/access.py)."""
    group = parser.add_argument_group("access to the HTTPS port")
    group.add_argument("--authentication-token-webhook", type=boolean_flag, nargs="?", const=True,
                       default=True, metavar="BOOL",
                       help="accept bearer tokens, checked with a TokenReview (default true)")
    group.add_argument("--authentication-token-webhook-cache-ttl", type=duration_flag, default=120.0,
                       metavar="DURATION", help="how long TokenReview answers are kept (default 2m0s)")
    group.add_argument("--authorization-mode", choices=("Webhook", "AlwaysAllow"), default="Webhook",
                       help="Webhook: a SubjectAccessReview per request (default); AlwaysAllow: none")
    group.add_argument("--authorization-webhook-cache-authorized-ttl", type=duration_flag, default=300.0,
                       metavar="DURATION", help="how long an allowed answer is kept (default 5m0s)")
    group.add_argument("--authorization-webhook-cache-unauthorized-ttl", type=duration_flag, default=30.0,
                       metavar="DURATION", help="how long a denied answer is kept (default 30s)")
