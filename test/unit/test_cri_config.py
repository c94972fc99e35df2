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

from cri.containerd_config import ContainerdLayout, bridge_network, render_config

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
    assert layout.endpoint == f"unix://{tmp_path}/cd/containerd.sock"


def test_unknown_default_config_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="restrict_oom_score_adj"):
        render_config(DEFAULT.replace("restrict_oom_score_adj", "something_else"), ContainerdLayout(tmp_path))


def test_bridge_network_gives_pod_ips_from_our_subnet(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path, pod_subnet="10.77.0.0/16", bridge_name="br-test")
    plugins: Any = bridge_network(layout)["plugins"]
    plugin, portmap = plugins
    assert portmap["type"] == "portmap" and portmap["capabilities"] == {"portMappings": True}
    assert plugin["type"] == "bridge" and plugin["bridge"] == "br-test" and plugin["isGateway"]
    assert plugin["ipam"]["type"] == "host-local"
    assert plugin["ipam"]["ranges"] == [[{"subnet": "10.77.0.0/16"}]]
    assert plugin["ipam"]["dataDir"] == str(tmp_path / "cni/ipam")
