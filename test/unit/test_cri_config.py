"""Our containerd configuration, rendered from ``containerd config default`` text.

Covers: root/state/socket under our directory, ``restrict_oom_score_adj``, the pause sandbox image, CNI
dirs, overlayfs, keys outside their section left alone, an unknown default config rejected, and the
bridge + host-local CNI network. Leaves out: running containerd (the component test does).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from cri.containerd_config import ContainerdLayout, bridge_network, render_config, write_registry_hosts

DEFAULT = '''
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[debug]
  address = ""

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    netns_mounts_under_state_dir = false
    disable_apparmor = false
    restrict_oom_score_adj = false
    sandbox_image = "registry.k8s.io/pause:3.6"

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""

  [plugins."io.containerd.internal.v1.opt"]
    path = "/opt/containerd"
'''


def test_render_points_everything_at_our_directory(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path / "cd")
    config = tomllib.loads(render_config(DEFAULT, layout))
    assert config["root"] == str(tmp_path / "cd/root")
    assert config["state"] == str(tmp_path / "cd/state")
    assert config["grpc"]["address"] == str(tmp_path / "cd/containerd.sock")
    assert config["debug"]["address"] == ""  # same key, other section: untouched
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.9"
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": str(tmp_path / "cd/cni/net.d")}
    assert cri["containerd"]["snapshotter"] == "overlayfs"
    assert cri["registry"]["config_path"] == str(tmp_path / "cd/certs.d")
    assert layout.endpoint == f"unix://{tmp_path}/cd/containerd.sock"


def test_unknown_default_config_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="restrict_oom_score_adj"):
        render_config(DEFAULT.replace("restrict_oom_score_adj", "something_else"), ContainerdLayout(tmp_path))


def test_registry_hosts_send_every_upstream_registry_to_ours_over_plain_http(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path / "cd", registry="127.0.0.1:5123")
    write_registry_hosts(layout)
    hosts = sorted(p.name for p in layout.registry_hosts_dir.iterdir())
    assert hosts == ["docker.io", "gcr.io", "ghcr.io", "quay.io", "registry.k8s.io"]
    for host in hosts:
        parsed = tomllib.loads((layout.registry_hosts_dir / host / "hosts.toml").read_text())
        # Our registry as the fallback server too: a missing image is "not found", never an
        # attempt at the unreachable upstream.
        assert parsed == {"server": "http://127.0.0.1:5123",
                          "host": {"http://127.0.0.1:5123": {"capabilities": ["pull", "resolve"]}}}


def test_no_registry_no_hosts_and_stale_ones_removed(tmp_path: Path) -> None:
    write_registry_hosts(ContainerdLayout(tmp_path / "cd", registry="127.0.0.1:5123"))
    layout = ContainerdLayout(tmp_path / "cd")
    write_registry_hosts(layout)
    assert list(layout.registry_hosts_dir.iterdir()) == []


def test_bridge_network_gives_pod_ips_from_our_subnet(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path, pod_subnet="10.77.0.0/16", bridge_name="br-test")
    plugins: Any = bridge_network(layout)["plugins"]
    plugin, portmap = plugins
    assert portmap["type"] == "portmap" and portmap["capabilities"] == {"portMappings": True}
    assert plugin["type"] == "bridge" and plugin["bridge"] == "br-test" and plugin["isGateway"]
    assert plugin["ipam"]["type"] == "host-local"
    assert plugin["ipam"]["ranges"] == [[{"subnet": "10.77.0.0/16"}]]
    assert plugin["ipam"]["dataDir"] == str(tmp_path / "cni/ipam")
