"""Every credential a local cluster needs, made in CERT_DIR on first start and reused after.

This is the list that upstream's hack/local-up-cluster.sh spreads over its shell functions
(create_client_certkey, write_client_kubeconfig, ...): the CA, the API server's serving pair,
the service-account key pair, the static token file, and one client identity per component,
each in a kubeconfig pointing at the secure URL; and the pair the API server presents to kubelets
(logs, exec, port-forward) with the kubelet's own serving pair, so each side can check the other;
and the front proxy's own CA and client pair (upstream's front-proxy-ca, front-proxy-client), which
the scale-out gateway presents to the partitions when it forwards a certificate user's identity in
request headers (docs/design/partition-server.md).
arktos-up.sh runs it in one Python process
(`python -m tools.pki cluster ...`); the e2e fixtures call `ensure_cluster_credentials` directly.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from apis.identity import (
    APISERVER_KUBELET_CLIENT_USER,
    KUBE_CONTROLLER_MANAGER_USER,
    KUBE_PROXY_USER,
    KUBE_SCHEDULER_USER,
    NODES_GROUP,
    SYSTEM_MASTERS,
    node_user,
)
from pki.certificates import ensure_ca, ensure_client_cert, ensure_sa_keypair, ensure_serving_cert
from tools.kubeconfig import ClientIdentity, ensure_client_kubeconfig
from tools.token_file import TOKEN_FILE, ensure_token

SERVING_CERT_FILE = "serving-kube-apiserver.crt"
SERVING_KEY_FILE = "serving-kube-apiserver.key"
# The admin pair also as files: curl readiness probes and the python client take file paths.
ADMIN_CERT_FILE = "client-admin.crt"
ADMIN_KEY_FILE = "client-admin.key"
ADMIN_IDENTITY = ClientIdentity("system:admin", organizations=(SYSTEM_MASTERS,))
ADMIN_TOKEN_USER = "admin"
# The API server's identity towards kubelets. Not in system:masters (a copy of this key must not be
# a cluster-admin credential): the bootstrap ClusterRoleBinding kube-apiserver:kubelet-apis gives it
# system:kubelet-api-admin, which is what the kubelets' SubjectAccessReviews check. A pair made
# earlier in system:masters no longer matches this subject and is re-issued on the next start.
KUBELET_CLIENT_CERT_FILE = "client-kube-apiserver-kubelet.crt"
KUBELET_CLIENT_KEY_FILE = "client-kube-apiserver-kubelet.key"
KUBELET_CLIENT_IDENTITY = ClientIdentity(APISERVER_KUBELET_CLIENT_USER)
# The front proxy's CA is not the cluster CA: a certificate the cluster CA signs must never be able
# to speak for other users through request headers (upstream's --requestheader-client-ca-file).
FRONT_PROXY_CA_STEM = "front-proxy-ca"
FRONT_PROXY_CA_COMMON_NAME = "arktos-front-proxy-ca"
FRONT_PROXY_CLIENT_CERT_FILE = "front-proxy-client.crt"
FRONT_PROXY_CLIENT_KEY_FILE = "front-proxy-client.key"
FRONT_PROXY_CLIENT_CN = "front-proxy-client"
KUBELET_SERVING_CERT_FILE = "serving-kubelet.crt"
KUBELET_SERVING_KEY_FILE = "serving-kubelet.key"
# Names the API server's certificate must carry besides the host IP: loopback, and the in-cluster
# service names pods will use later (as upstream's local-up-cluster adds to its serving cert).
DEFAULT_SERVING_HOSTS = (
    "127.0.0.1",
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True, slots=True)
class ComponentKubeconfig:
    file: str
    user: str
    identity: ClientIdentity


def component_kubeconfigs(node_name: str) -> list[ComponentKubeconfig]:
    """The identities upstream's bootstrap RBAC policy knows these components by; only the admin is
    in system:masters. A kubeconfig whose embedded certificate names another subject (the
    controller manager's was in system:masters before per-controller credentials) is re-issued."""
    return [
        ComponentKubeconfig("admin.kubeconfig", "admin", ADMIN_IDENTITY),
        ComponentKubeconfig(
            "controller.kubeconfig",
            "kube-controller-manager",
            # Its own role (leases, service accounts and their tokens, list/watch for the shared
            # informers); each controller acts as its own service account
            # (--use-service-account-credentials, controllers/credentials.py).
            ClientIdentity(KUBE_CONTROLLER_MANAGER_USER),
        ),
        ComponentKubeconfig("scheduler.kubeconfig", "kube-scheduler", ClientIdentity(KUBE_SCHEDULER_USER)),
        ComponentKubeconfig(
            "kubelet.kubeconfig",
            "kubelet",
            ClientIdentity(node_user(node_name), organizations=(NODES_GROUP,)),
        ),
        ComponentKubeconfig("kube-proxy.kubeconfig", "kube-proxy", ClientIdentity(KUBE_PROXY_USER)),
    ]


@dataclass(frozen=True, slots=True)
class ClusterCredentials:
    """Paths of what ensure_cluster_credentials leaves in the directory."""

    cert_dir: Path
    admin_token: str

    @property
    def ca_cert(self) -> Path:
        return self.cert_dir / "ca.crt"

    @property
    def serving_cert(self) -> Path:
        return self.cert_dir / SERVING_CERT_FILE

    @property
    def serving_key(self) -> Path:
        return self.cert_dir / SERVING_KEY_FILE

    @property
    def sa_key(self) -> Path:
        return self.cert_dir / "sa.key"

    @property
    def sa_public_key(self) -> Path:
        return self.cert_dir / "sa.pub"

    @property
    def token_file(self) -> Path:
        return self.cert_dir / TOKEN_FILE

    @property
    def admin_cert(self) -> Path:
        return self.cert_dir / ADMIN_CERT_FILE

    @property
    def admin_key(self) -> Path:
        return self.cert_dir / ADMIN_KEY_FILE

    @property
    def admin_kubeconfig(self) -> Path:
        return self.cert_dir / "admin.kubeconfig"

    @property
    def kubelet_client_cert(self) -> Path:
        return self.cert_dir / KUBELET_CLIENT_CERT_FILE

    @property
    def kubelet_client_key(self) -> Path:
        return self.cert_dir / KUBELET_CLIENT_KEY_FILE

    @property
    def front_proxy_ca_cert(self) -> Path:
        return self.cert_dir / f"{FRONT_PROXY_CA_STEM}.crt"

    @property
    def front_proxy_client_cert(self) -> Path:
        return self.cert_dir / FRONT_PROXY_CLIENT_CERT_FILE

    @property
    def front_proxy_client_key(self) -> Path:
        return self.cert_dir / FRONT_PROXY_CLIENT_KEY_FILE

    @property
    def kubelet_serving_cert(self) -> Path:
        return self.cert_dir / KUBELET_SERVING_CERT_FILE

    @property
    def kubelet_serving_key(self) -> Path:
        return self.cert_dir / KUBELET_SERVING_KEY_FILE


def primary_ip() -> str:
    """The address of the default route: what the kubelet reports as its InternalIP unless told
    otherwise (no packet is sent; connecting a UDP socket only picks the source address)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
    except OSError:
        return ""


def kubelet_serving_hosts(node_name: str, node_ips: Sequence[str] = ()) -> list[str]:
    """Names the kubelet's serving certificate covers: the node name, loopback and the node IPs."""
    ips = list(node_ips) or [ip for ip in (primary_ip(),) if ip]
    return list(dict.fromkeys([node_name, "127.0.0.1", "localhost", *ips]))


def ensure_cluster_credentials(
    cert_dir: Path,
    *,
    server: str,
    hosts: Sequence[str],
    node_name: str,
    node_ips: Sequence[str] = (),
    log: list[str] | None = None,
) -> ClusterCredentials:
    """Creates or reuses everything in ``cert_dir``; ``log`` collects one line per file touched.

    ``node_ips``: the kubelet's addresses for its serving certificate (default: this host's
    primary address, which the kubelet reports as InternalIP).
    """
    cert_dir.mkdir(parents=True, exist_ok=True)
    notes = log if log is not None else []
    ca = ensure_ca(cert_dir)
    ensure_serving_cert(
        ca,
        cert_dir / SERVING_CERT_FILE,
        cert_dir / SERVING_KEY_FILE,
        hosts=list(dict.fromkeys([*hosts, *DEFAULT_SERVING_HOSTS])),
    )
    ensure_sa_keypair(cert_dir)
    ensure_client_cert(
        ca,
        cert_dir / ADMIN_CERT_FILE,
        cert_dir / ADMIN_KEY_FILE,
        common_name=ADMIN_IDENTITY.common_name,
        organizations=ADMIN_IDENTITY.organizations,
    )
    ensure_client_cert(
        ca,
        cert_dir / KUBELET_CLIENT_CERT_FILE,
        cert_dir / KUBELET_CLIENT_KEY_FILE,
        common_name=KUBELET_CLIENT_IDENTITY.common_name,
        organizations=KUBELET_CLIENT_IDENTITY.organizations,
    )
    ensure_serving_cert(
        ca,
        cert_dir / KUBELET_SERVING_CERT_FILE,
        cert_dir / KUBELET_SERVING_KEY_FILE,
        hosts=kubelet_serving_hosts(node_name, node_ips),
    )
    front_proxy_ca = ensure_ca(cert_dir, common_name=FRONT_PROXY_CA_COMMON_NAME, stem=FRONT_PROXY_CA_STEM)
    ensure_client_cert(
        front_proxy_ca,
        cert_dir / FRONT_PROXY_CLIENT_CERT_FILE,
        cert_dir / FRONT_PROXY_CLIENT_KEY_FILE,
        common_name=FRONT_PROXY_CLIENT_CN,
    )
    token = ensure_token(
        cert_dir / TOKEN_FILE, user=ADMIN_TOKEN_USER, groups=(SYSTEM_MASTERS,), tenant="system"
    )
    for component in component_kubeconfigs(node_name):
        issued = ensure_client_kubeconfig(
            cert_dir / component.file, ca, identity=component.identity, server=server, user=component.user
        )
        notes.append(
            f"{'issued' if issued else 'reused'} {component.identity.common_name} in {component.file}"
        )
    return ClusterCredentials(cert_dir, token)
