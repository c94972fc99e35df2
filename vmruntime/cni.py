"""Running the node's CNI network for a VM sandbox: the plugins of one conflist, per the CNI spec.

containerd's CRI plugin sets up a container pod's network with libcni; the VM runtime does the same
for its sandboxes with the same conflist (`cri.containerd_config.bridge_network`: bridge +
host-local, then portmap) and so the same host-local IPAM data dir, so VM and container pods share
one bridge and one address pool. What libcni does, done here (spec "Execution of Network
Configurations"):

- the network is the lexically first ``*.conflist`` (then ``*.conf``/``*.json``) in the conf dir;
- ADD runs the plugins in order, each getting the conflist's ``name`` and ``cniVersion`` merged into
  its own object on stdin, plus ``prevResult`` = the previous plugin's result from the second on;
- DEL runs them in reverse order with the ADD's final result as ``prevResult``; a DEL of something
  never added (or already deleted) succeeds, as plugins must make DEL idempotent;
- the environment: ``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``,
  ``CNI_PATH``, ``CNI_ARGS`` (``K8S_POD_NAMESPACE``/``K8S_POD_NAME``, as containerd passes them);
- a plugin that exits non-zero prints an error object (``code``, ``msg``, ``details``) on stdout.

No capability arguments are passed (a VM pod has no hostPorts), so portmap passes the result on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BIN_DIR = Path("/usr/lib/cni")
POD_IFNAME = "eth0"
PLUGIN_TIMEOUT_S = 30.0


class CniError(RuntimeError):
    """No usable network configuration, or a plugin failed (the message carries its error)."""


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """One conflist: its ``name``, ``cniVersion`` and plugin objects, as read from ``path``."""

    name: str
    cni_version: str
    plugins: tuple[dict[str, Any], ...]
    path: Path


@dataclass(frozen=True, slots=True)
class PodAddress:
    """What the guest needs from a CNI result: its IPv4 address, prefix, gateway and the MAC of the
    sandbox's interface (the guest takes it over)."""

    ip: str
    prefix_length: int
    gateway: str
    mac: str = ""


@dataclass(frozen=True, slots=True)
class Invocation:
    """One plugin execution: the binary, its environment additions and stdin."""

    plugin: str
    env: dict[str, str]
    stdin: bytes


def load_network(conf_dir: Path) -> NetworkConfig:
    """The network libcni would pick in ``conf_dir``: the first conflist by name; a single-plugin
    ``.conf``/``.json`` becomes a one-plugin list."""
    candidates = sorted(p for p in conf_dir.glob("*") if p.suffix in (".conflist", ".conf", ".json"))
    if not candidates:
        raise CniError(f"no CNI network configuration in {conf_dir}")
    path = candidates[0]
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CniError(f"cannot read CNI configuration {path}: {e}") from e
    if path.suffix == ".conflist":
        plugins = data.get("plugins")
    else:
        plugins = [{k: v for k, v in data.items() if k not in ("name", "cniVersion")}]
    if not isinstance(plugins, list) or not plugins or not all(isinstance(p, dict) and p.get("type")
                                                                for p in plugins):
        raise CniError(f"{path}: no plugins with a type")
    return NetworkConfig(name=str(data.get("name", "")), cni_version=str(data.get("cniVersion", "1.0.0")),
                         plugins=tuple(plugins), path=path)


def plugin_stdin(network: NetworkConfig, plugin: Mapping[str, Any],
                 prev_result: Mapping[str, Any] | None) -> bytes:
    """A plugin's network configuration: its object with the list's name and version, and the
    previous result when there is one."""
    conf: dict[str, Any] = {**plugin, "name": network.name, "cniVersion": network.cni_version}
    if prev_result is not None:
        conf["prevResult"] = dict(prev_result)
    return json.dumps(conf).encode()


def plugin_env(command: str, *, container_id: str, netns: str, ifname: str, bin_dir: Path,
               args: Mapping[str, str]) -> dict[str, str]:
    cni_args = ";".join(["IgnoreUnknown=1", *(f"{k}={v}" for k, v in args.items())])
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns,
            "CNI_IFNAME": ifname, "CNI_PATH": str(bin_dir), "CNI_ARGS": cni_args}


def plugin_error(plugin: str, returncode: int, stdout: bytes, stderr: bytes) -> CniError:
    """The spec's error object (``msg``, ``details``) when the plugin printed one, else its output."""
    try:
        error = json.loads(stdout)
        text = str(error.get("msg", "")) + (f": {error['details']}" if error.get("details") else "")
    except (ValueError, AttributeError):
        text = ""
    text = text or (stderr or stdout).decode(errors="replace").strip() or f"exit status {returncode}"
    return CniError(f"plugin type={plugin!r} failed: {text}")


def pod_address(result: Mapping[str, Any], netns: str, ifname: str = POD_IFNAME) -> PodAddress:
    """The first IPv4 address of the final ADD result and the MAC of the sandbox interface it sits
    on (``ips[].interface`` indexes ``interfaces``; else the interface named ``ifname`` in
    ``netns``)."""
    interfaces = result.get("interfaces") or []
    for entry in result.get("ips") or []:
        try:
            network = ipaddress.ip_interface(str(entry["address"]))
        except (KeyError, ValueError):
            continue
        if network.version != 4:
            continue
        mac = ""
        index = entry.get("interface")
        if isinstance(index, int) and 0 <= index < len(interfaces):
            mac = str(interfaces[index].get("mac", ""))
        if not mac:
            mac = next((str(i.get("mac", "")) for i in interfaces
                        if i.get("name") == ifname and i.get("sandbox") == netns), "")
        return PodAddress(ip=str(network.ip), prefix_length=network.network.prefixlen,
                          gateway=str(entry.get("gateway", "")), mac=mac)
    raise CniError(f"the CNI result has no IPv4 address: {json.dumps(dict(result))[:500]}")


@dataclass(slots=True)
class CniNetwork:
    """ADD/DEL of one sandbox on the network in ``conf_dir``, plugins from ``bin_dir``."""

    conf_dir: Path
    bin_dir: Path = DEFAULT_BIN_DIR
    plugin_search_path: str = "/usr/sbin:/usr/bin:/sbin:/bin"  # PATH for plugins (portmap runs iptables)

    def network(self) -> NetworkConfig:
        return load_network(self.conf_dir)

    async def add(self, container_id: str, netns: str, args: Mapping[str, str],
                  ifname: str = POD_IFNAME) -> dict[str, Any]:
        """ADD through every plugin; the final result. A failure midway DELs what was added."""
        network = self.network()
        result: dict[str, Any] | None = None
        for plugin in network.plugins:
            env = plugin_env("ADD", container_id=container_id, netns=netns, ifname=ifname,
                             bin_dir=self.bin_dir, args=args)
            try:
                result = await self._run(Invocation(str(plugin["type"]), env,
                                                    plugin_stdin(network, plugin, result)))
            except CniError:
                await self.delete(container_id, netns, args, prev_result=result, ifname=ifname)
                raise
        assert result is not None
        return result

    async def delete(self, container_id: str, netns: str, args: Mapping[str, str], *,
                     prev_result: Mapping[str, Any] | None, ifname: str = POD_IFNAME) -> None:
        """DEL through every plugin in reverse order; the first failure is raised after all ran."""
        network = self.network()
        failure: CniError | None = None
        for plugin in reversed(network.plugins):
            env = plugin_env("DEL", container_id=container_id, netns=netns, ifname=ifname,
                             bin_dir=self.bin_dir, args=args)
            try:
                await self._run(Invocation(str(plugin["type"]), env,
                                           plugin_stdin(network, plugin, prev_result)))
            except CniError as e:
                failure = failure or e
        if failure is not None:
            raise failure

    async def _run(self, invocation: Invocation) -> dict[str, Any]:
        binary = self.bin_dir / invocation.plugin
        if not os.access(binary, os.X_OK):
            raise CniError(f"CNI plugin {binary} not found")
        env = {"PATH": self.plugin_search_path, **invocation.env}
        process = await asyncio.create_subprocess_exec(
            str(binary), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(invocation.stdin), PLUGIN_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise CniError(f"plugin type={invocation.plugin!r} timed out after "
                           f"{PLUGIN_TIMEOUT_S:.0f}s") from None
        if process.returncode != 0:
            raise plugin_error(invocation.plugin, process.returncode or 0, stdout, stderr)
        if not stdout.strip():
            return {}
        try:
            parsed = json.loads(stdout)
        except ValueError as e:
            raise CniError(f"plugin type={invocation.plugin!r} printed no JSON result: {e}") from e
        return parsed if isinstance(parsed, dict) else {}
