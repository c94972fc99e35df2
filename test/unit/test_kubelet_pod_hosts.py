"""kubelet.pod_hosts: the pod's hostname and the kubelet-managed /etc/hosts, as upstream's kubelet.

Covers: the hostname (spec.hostname or the name, cut to 63 characters without a trailing - or .)
and the subdomain FQDN; setHostnameAsFQDN's sandbox hostname and its 64-character limit; the
managed file's exact content with and without a subdomain and with hostAliases; a host-network
pod's copy of the node's file; the file written 0644 under the pod's directory and its mount; a
container that mounts its own /etc/hosts; PodInputs adding the mount only once the pod has an IP.
Leaves out what the container sees (component: test_kubelet_pod_network).
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from kubelet_sources import MemorySource

from kubelet.cri_specs import build_sandbox_config
from kubelet.pod_hosts import (
    HostnameError,
    kernel_hostname,
    managed_hosts_content,
    mounts_own_hosts_file,
    pod_domain,
    pod_hostname,
    write_hosts_file,
)
from kubelet.pod_inputs import PodInputs

LOCAL = ("# Kubernetes-managed hosts file.\n"
         "127.0.0.1\tlocalhost\n"
         "::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::0\tip6-localnet\n"
         "fe00::0\tip6-mcastprefix\n"
         "fe00::1\tip6-allnodes\n"
         "fe00::2\tip6-allrouters\n")


def pod(name: str = "web-0", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "shop", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def test_the_hostname_is_spec_hostname_or_the_name_cut_as_upstream() -> None:
    assert pod_hostname(pod()) == "web-0"
    assert pod_hostname(pod(hostname="db")) == "db"
    assert pod_hostname(pod("a" * 62 + "-b")) == "a" * 62
    assert pod_hostname(pod("b" * 70)) == "b" * 63
    assert pod_domain(pod(subdomain="cache"), "cluster.local") == "cache.shop.svc.cluster.local"
    assert pod_domain(pod(), "cluster.local") == ""


def test_set_hostname_as_fqdn_makes_the_sandbox_hostname_the_fqdn(tmp_path: Path) -> None:
    fqdn_pod = pod(hostname="db", subdomain="cache", setHostnameAsFQDN=True)
    assert kernel_hostname(fqdn_pod, "cluster.local") == "db.cache.shop.svc.cluster.local"
    assert build_sandbox_config(fqdn_pod, log_root=tmp_path, cluster_domain="cluster.local").hostname \
        == "db.cache.shop.svc.cluster.local"
    # no subdomain, or not asked for: the plain hostname
    assert kernel_hostname(pod(hostname="db", setHostnameAsFQDN=True), "cluster.local") == "db"
    assert kernel_hostname(pod(hostname="db", subdomain="cache"), "cluster.local") == "db"
    with pytest.raises(HostnameError, match=r"FQDN .* is too long \(64 characters is the max, 70 characters"):
        kernel_hostname(pod(hostname="d" * 41, subdomain="cache", setHostnameAsFQDN=True), "cluster.local")


def test_the_managed_file_names_the_pod_and_its_aliases() -> None:
    assert managed_hosts_content(pod(), ("10.88.0.5",), cluster_domain="cluster.local") \
        == LOCAL + "10.88.0.5\tweb-0\n"
    aliases = [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]},
               {"ip": "10.1.2.4", "hostnames": ["x"]}]
    named = pod(hostname="db", subdomain="cache", hostAliases=aliases)
    content = managed_hosts_content(named, ("10.88.0.5",), cluster_domain="cluster.local")
    assert content == (LOCAL + "10.88.0.5\tdb.cache.shop.svc.cluster.local\tdb\n"
                       "\n# Entries added by HostAliases.\n"
                       "10.1.2.3\tfoo.local\tbar.local\n"
                       "10.1.2.4\tx\n")


def test_the_file_is_written_under_the_pod_dir_and_mounted(tmp_path: Path) -> None:
    mount = write_hosts_file(tmp_path / "pods" / "u1", pod(), ("10.88.0.5",), cluster_domain="cluster.local")
    path = tmp_path / "pods" / "u1" / "etc-hosts"
    assert (mount.container_path, mount.host_path, mount.read_only) == ("/etc/hosts", str(path), False)
    assert path.read_text() == LOCAL + "10.88.0.5\tweb-0\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_host_network_pod_gets_the_nodes_file_and_its_aliases(tmp_path: Path) -> None:
    node_hosts = tmp_path / "hosts"
    node_hosts.write_text("127.0.0.1\tlocalhost\n192.0.2.2\tnode-1\n")
    host_pod = pod(hostNetwork=True, hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo"]}])
    mount = write_hosts_file(tmp_path / "pod", host_pod, ("192.0.2.2",), cluster_domain="cluster.local",
                             node_hosts_path=node_hosts)
    assert Path(mount.host_path).read_text() == (
        "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n192.0.2.2\tnode-1\n"
        "\n# Entries added by HostAliases.\n10.1.2.3\tfoo\n")


async def test_pod_inputs_mount_the_file_once_the_pod_has_an_ip(tmp_path: Path) -> None:
    inputs = PodInputs(None, root_dir=tmp_path, node_allocatable={}, source=MemorySource(),
                       cluster_domain="cluster.local")
    own = {"name": "own", "image": "busybox", "volumeMounts": [{"name": "h", "mountPath": "/etc/hosts"}]}
    p = pod(subdomain="cache", volumes=[{"name": "h", "emptyDir": {}}])
    container = p["spec"]["containers"][0]
    mounts = (await inputs.for_container(p, container, host_ip="192.0.2.2", pod_ip="10.88.0.5")).mounts
    hosts_file = tmp_path / "pods" / "u1" / "etc-hosts"
    assert [(m.container_path, m.host_path) for m in mounts] == [("/etc/hosts", str(hosts_file))]
    assert "10.88.0.5\tweb-0.cache.shop.svc.cluster.local\tweb-0\n" in hosts_file.read_text()
    assert (await inputs.for_container(p, container, host_ip="192.0.2.2", pod_ip="")).mounts == ()
    assert mounts_own_hosts_file(own)
    mounts = (await inputs.for_container(p, own, host_ip="192.0.2.2", pod_ip="10.88.0.5")).mounts
    assert [m.container_path for m in mounts] == ["/etc/hosts"]
    assert "empty-dir" in mounts[0].host_path
