"""The pod's hostname and the kubelet-managed /etc/hosts every container of a pod sees.

Upstream's kubelet_pods.go (``GeneratePodHostNameAndDomain``, ``makeHostsMount``,
``managedHostsFileContent``, ``nodeHostsFileContent``): the hostname is ``spec.hostname`` or the
pod's name, cut to 63 characters without a trailing ``-`` or ``.``; with ``spec.subdomain`` the
pod's domain is ``<subdomain>.<ns>.svc.<cluster domain>`` (with ``setHostnameAsFQDN`` the sandbox's
hostname is then the FQDN). Once the pod has an IP the kubelet
writes ``<pod dir>/etc-hosts`` and bind-mounts it at /etc/hosts in every container that does not
mount something there itself (the runtime then leaves its own copy of the node's file out):

    # Kubernetes-managed hosts file.
    127.0.0.1	localhost
    ::1	localhost ip6-localhost ip6-loopback
    fe00::0	ip6-localnet ... (the ip6 lines)
    <pod IP>	<hostname>            or   <pod IP>	<hostname>.<domain>	<hostname>

followed by ``# Entries added by HostAliases.`` and one line per ``hostAliases`` entry. A
host-network pod gets the node's own /etc/hosts under a "(host network)" header, plus its aliases.
The API server has already checked ``hostname`` and ``subdomain`` as DNS labels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kubelet.runtime import Mount

HOSTS_PATH = "/etc/hosts"
HOSTS_FILE_NAME = "etc-hosts"
HOSTNAME_MAX = 63  # a DNS label (the kernel's 64 bytes with the terminating NUL)
FQDN_MAX = 64  # what the kernel's nodename field holds (upstream's GetNodenameForKernel)
MANAGED_HEADER = "# Kubernetes-managed hosts file.\n"
HOST_NETWORK_HEADER = "# Kubernetes-managed hosts file (host network).\n"
_LOCAL_LINES = ("127.0.0.1\tlocalhost\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\n"
                "fe00::0\tip6-mcastprefix\n"
                "fe00::1\tip6-allnodes\n"
                "fe00::2\tip6-allrouters\n")


def pod_hostname(pod: dict[str, Any]) -> str:
    """``spec.hostname`` or the pod's name, truncated as upstream's truncatePodHostnameIfNeeded."""
    spec = pod.get("spec") or {}
    hostname = str(spec.get("hostname") or (pod.get("metadata") or {}).get("name") or "")
    if len(hostname) <= HOSTNAME_MAX:
        return hostname
    return hostname[:HOSTNAME_MAX].rstrip("-.")


def pod_domain(pod: dict[str, Any], cluster_domain: str) -> str:
    """``<subdomain>.<namespace>.svc.<cluster domain>``, or empty without ``spec.subdomain``."""
    subdomain = str((pod.get("spec") or {}).get("subdomain") or "")
    if not subdomain:
        return ""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    return f"{subdomain}.{namespace}.svc.{cluster_domain}"


class HostnameError(ValueError):
    """``setHostnameAsFQDN`` asks for a name the kernel cannot hold."""


def kernel_hostname(pod: dict[str, Any], cluster_domain: str) -> str:
    """The sandbox's hostname: the pod's, or with ``setHostnameAsFQDN`` and a subdomain its FQDN
    (upstream's GetNodenameForKernel); raises `HostnameError` past 64 characters."""
    hostname, domain = pod_hostname(pod), pod_domain(pod, cluster_domain)
    if not domain or not (pod.get("spec") or {}).get("setHostnameAsFQDN"):
        return hostname
    fqdn = f"{hostname}.{domain}"
    if len(fqdn) > FQDN_MAX:
        raise HostnameError(f"failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is "
                            f"too long ({FQDN_MAX} characters is the max, {len(fqdn)} characters requested)")
    return fqdn


def host_alias_lines(pod: dict[str, Any]) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return ""
    lines = [f"{a.get('ip', '')}\t" + "\t".join(str(h) for h in a.get("hostnames") or []) for a in aliases]
    return "\n# Entries added by HostAliases.\n" + "".join(f"{line}\n" for line in lines)


def managed_hosts_content(pod: dict[str, Any], pod_ips: tuple[str, ...], *, cluster_domain: str) -> str:
    hostname, domain = pod_hostname(pod), pod_domain(pod, cluster_domain)
    own = [f"{ip}\t{hostname}.{domain}\t{hostname}\n" if domain else f"{ip}\t{hostname}\n" for ip in pod_ips]
    return MANAGED_HEADER + _LOCAL_LINES + "".join(own) + host_alias_lines(pod)


def node_hosts_content(pod: dict[str, Any], node_hosts: str) -> str:
    return HOST_NETWORK_HEADER + node_hosts + host_alias_lines(pod)


def mounts_own_hosts_file(container: dict[str, Any]) -> bool:
    return any(m.get("mountPath") == HOSTS_PATH for m in container.get("volumeMounts") or [])


def write_hosts_file(pod_dir: Path, pod: dict[str, Any], pod_ips: tuple[str, ...], *, cluster_domain: str,
                     node_hosts_path: Path = Path(HOSTS_PATH)) -> Mount:
    """Writes ``<pod_dir>/etc-hosts`` (0644, rewritten on every container start as upstream's
    ensureHostsFile) and answers its mount; blocking (run it in a thread)."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        content = node_hosts_content(pod, node_hosts_path.read_text(errors="replace"))
    else:
        content = managed_hosts_content(pod, pod_ips, cluster_domain=cluster_domain)
    pod_dir.mkdir(parents=True, exist_ok=True)
    path = pod_dir / HOSTS_FILE_NAME
    temporary = path.with_name(f".{HOSTS_FILE_NAME}.tmp")
    temporary.write_text(content)
    os.chmod(temporary, 0o644)
    # Replaced, not rewritten: a running container's bind mount keeps the inode it has.
    os.replace(temporary, path)
    return Mount(container_path=HOSTS_PATH, host_path=str(path), read_only=False)
