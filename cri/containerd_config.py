"""Renders our containerd configuration and CNI network from ``containerd config default``.

Every containerd we start (``hack/arktos-up.sh`` via ``hack/lib/containerd.sh``, and the component tests)
gets the same settings from here, so the shell and Python paths cannot drift:

* root, state and the gRPC socket under one directory of ours, so several containerds can share a host;
* ``restrict_oom_score_adj = true`` in the CRI plugin: root here lacks CAP_SYS_RESOURCE, and without it
  RunPodSandbox fails writing the sandbox's ``oom_score_adj`` (upstream's "rootless" setting);
* the CNI plugins from Debian's ``containernetworking-plugins`` (``/usr/lib/cni``) and our own conf dir
  with a bridge + host-local network for pod IPs (the CRI plugin adds loopback itself, with the
  ``loopback`` plugin from the same bin dir), network namespaces under our state dir;
* overlayfs snapshotter, and ``sandbox_image`` naming upstream's ``pause`` image;
* the CRI registry ``config_path`` (``DIR/certs.d``) with a ``hosts.toml`` per upstream registry
  (docker.io, registry.k8s.io, gcr.io, quay.io, ghcr.io) whose server is our local registry over
  plain HTTP, so every pull - the sandbox image included - takes containerd's normal CRI path.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cri.image_names import MIRRORED_REGISTRIES
from cri.images import PAUSE_IMAGE

CNI_BIN_DIR = "/usr/lib/cni"
_CRI = 'plugins."io.containerd.grpc.v1.cri"'


@dataclass(frozen=True)
class ContainerdLayout:
    """Where one containerd instance keeps everything; all paths derive from ``base``."""

    base: Path
    pod_subnet: str = "10.88.0.0/16"
    bridge_name: str = "arktos0"
    registry: str | None = None  # host:port of the local registry that stands in for the upstream ones

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def socket(self) -> Path:
        return self.base / "containerd.sock"

    @property
    def endpoint(self) -> str:
        """The CRI endpoint URL a kubelet takes (``--container-runtime-endpoint``)."""
        return f"unix://{self.socket}"

    @property
    def config_file(self) -> Path:
        return self.base / "config.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.base / "cni" / "net.d"

    @property
    def cni_data_dir(self) -> Path:
        return self.base / "cni" / "ipam"

    @property
    def log_file(self) -> Path:
        return self.base / "containerd.log"

    @property
    def registry_hosts_dir(self) -> Path:
        """containerd's ``config_path``: one ``<host>/hosts.toml`` per registry host."""
        return self.base / "certs.d"

    @property
    def pid_file(self) -> Path:
        return self.base / "containerd.pid"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def overrides_for(layout: ContainerdLayout) -> dict[tuple[str, str], str]:
    """(section, key) → TOML value to set; section "" is the top level."""
    return {
        ("", "root"): _toml_string(str(layout.root)),
        ("", "state"): _toml_string(str(layout.state)),
        ("grpc", "address"): _toml_string(str(layout.socket)),
        (_CRI, "restrict_oom_score_adj"): "true",
        (_CRI, "sandbox_image"): _toml_string(PAUSE_IMAGE),
        (_CRI, "netns_mounts_under_state_dir"): "true",
        (_CRI, "disable_apparmor"): "true",
        (f"{_CRI}.cni", "bin_dir"): _toml_string(CNI_BIN_DIR),
        (f"{_CRI}.cni", "conf_dir"): _toml_string(str(layout.cni_conf_dir)),
        (f"{_CRI}.containerd", "snapshotter"): _toml_string("overlayfs"),
        (f"{_CRI}.registry", "config_path"): _toml_string(str(layout.registry_hosts_dir)),
        ('plugins."io.containerd.internal.v1.opt"', "path"): _toml_string(str(layout.base / "opt")),
    }


_SECTION = re.compile(r"^\s*\[([^\[\]]+)\]\s*$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_]+)\s*=")


def render_config(default_config: str, layout: ContainerdLayout) -> str:
    """Apply our overrides to the text of ``containerd config default``, line by line within sections.
    A key we must set that the default does not contain is an error (a containerd we do not know)."""
    wanted = overrides_for(layout)
    seen: set[tuple[str, str]] = set()
    section = ""
    out: list[str] = []
    for line in default_config.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
        key = _KEY.match(line)
        if key and (section, key.group(2)) in wanted:
            pair = (section, key.group(2))
            line = f"{key.group(1)}{key.group(2)} = {wanted[pair]}"
            seen.add(pair)
        out.append(line)
    missing = set(wanted) - seen
    if missing:
        raise ValueError(f"containerd default config lacks {sorted(missing)}; unknown containerd version?")
    return "\n".join(out) + "\n"


def bridge_network(layout: ContainerdLayout) -> dict[str, object]:
    """The pod network: a Linux bridge acting as the pods' gateway, addresses from host-local IPAM."""
    return {
        "cniVersion": "1.0.0",
        "name": "arktos-pods",
        "plugins": [{
            "type": "bridge",
            "bridge": layout.bridge_name,
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": layout.pod_subnet}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(layout.cni_data_dir),
            },
        }, {
            # hostPort: DNAT from the node's ports to the pod (iptables), as upstream's default CNI
            # configs chain it after the bridge; snat makes the node's own connections work too.
            "type": "portmap",
            "capabilities": {"portMappings": True},
            "snat": True,
        }],
    }


def registry_hosts(registry: str) -> str:
    """``hosts.toml`` sending one upstream registry's pulls to ``registry`` (``host:port``) over plain
    HTTP: a ``[host]`` mirror, and the same registry as ``server`` (the fallback after the mirrors)
    instead of the upstream one - there is no internet here, and a name the local registry lacks must
    fail as "not found" (ErrImagePull) rather than with a lookup error. containerd 1.6 refuses a file
    without a ``host`` table, hence both."""
    url = _toml_string("http://" + registry)
    return (f"# arktos: the local registry stands in for this upstream registry (plain HTTP, loopback)\n"
            f"server = {url}\n\n"
            f"[host.{url}]\n"
            f'  capabilities = ["pull", "resolve"]\n')


def write_registry_hosts(layout: ContainerdLayout) -> None:
    """One ``hosts.toml`` per mirrored upstream registry (none without a registry: pulls go upstream)."""
    shutil.rmtree(layout.registry_hosts_dir, ignore_errors=True)
    layout.registry_hosts_dir.mkdir(parents=True)
    if layout.registry is None:
        return
    for host in MIRRORED_REGISTRIES:
        (layout.registry_hosts_dir / host).mkdir()
        (layout.registry_hosts_dir / host / "hosts.toml").write_text(registry_hosts(layout.registry))


def write_config(layout: ContainerdLayout, containerd: str = "containerd") -> Path:
    """Create the directories, the CNI conflist, the registry hosts and ``config.toml``; returns the
    config path."""
    for d in (layout.base, layout.root, layout.state, layout.cni_conf_dir, layout.cni_data_dir):
        d.mkdir(parents=True, exist_ok=True)
    write_registry_hosts(layout)
    conflist = layout.cni_conf_dir / "10-arktos-bridge.conflist"
    conflist.write_text(json.dumps(bridge_network(layout), indent=2))
    default = subprocess.run([containerd, "config", "default"], capture_output=True, text=True, check=True)
    layout.config_file.write_text(render_config(default.stdout, layout))
    return layout.config_file


def main(argv: list[str] | None = None) -> int:
    """``python -m cri.containerd_config DIR [SUBNET [BRIDGE [REGISTRY]]]``: what ``hack/lib/containerd.sh``
    runs (REGISTRY ``host:port``; empty: no mirror)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m cri.containerd_config DIR [POD_SUBNET [BRIDGE_NAME [REGISTRY]]]",
              file=sys.stderr)
        return 2
    subnet, bridge, registry = [*args[1:], "", "", ""][:3]
    layout = ContainerdLayout(Path(args[0]).resolve(), pod_subnet=subnet or "10.88.0.0/16",
                              bridge_name=bridge or "arktos0", registry=registry or None)
    print(write_config(layout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
