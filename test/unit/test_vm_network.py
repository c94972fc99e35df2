"""The VM runtime's CNI invocation (`vmruntime.cni`), the guest's ``ip=`` argument, qemu's NIC and
the inventory's bookkeeping of a sandbox's network (with a recording `PodNetworks`).

The CNI part runs real processes: small shell "plugins" in a temp bin dir that record their
environment and stdin and print a result, so the chaining (``prevResult``), the order (DEL reversed),
the environment and the error handling are checked as the spec states them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from vmruntime.cni import CniError, CniNetwork, load_network, plugin_error, plugin_stdin, pod_address
from vmruntime.guest import GuestNic, kernel_ip_argument
from vmruntime.images import ImageStore
from vmruntime.inventory import Inventory, guest_nic
from vmruntime.podnet import NetworkSetupError, PodNetworks, SandboxNetwork, netns_prefix, tap_commands
from vmruntime.qemu import VmSize, qemu_command
from vmruntime.records import SandboxRecord

NETNS = "/run/netns/avm-test"
RESULT = {"cniVersion": "1.0.0",
          "interfaces": [{"name": "arktos0", "mac": "aa:aa:aa:aa:aa:aa"},
                         {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                         {"name": "eth0", "mac": "0a:58:0a:b5:00:05", "sandbox": NETNS}],
          "ips": [{"interface": 2, "address": "10.181.0.5/24", "gateway": "10.181.0.1"}]}


def _plugin(bin_dir: Path, name: str, result: dict[str, object] | None, *, fail: str = "") -> None:
    """A plugin that appends ``name CNI_COMMAND <stdin>`` and its env to ``calls`` and prints a result."""
    calls = bin_dir / "calls"
    env = "$CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_PATH $CNI_ARGS"
    body = f'echo "{name} {env}" >> {calls}\n'
    body += f"cat >> {calls}; echo >> {calls}\n"
    if fail:
        error = {"cniVersion": "1.0.0", "code": 7, "msg": fail, "details": "why"}
        body += f"echo '{json.dumps(error)}'; exit 1\n"
    elif result is not None:
        body += f"echo '{json.dumps(result)}'\n"
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _network(tmp_path: Path, plugins: list[dict[str, object]]) -> CniNetwork:
    conf = tmp_path / "net.d"
    conf.mkdir()
    conflist = {"cniVersion": "1.0.0", "name": "pods", "plugins": plugins}
    (conf / "10-net.conflist").write_text(json.dumps(conflist))
    (conf / "20-other.conflist").write_text(json.dumps({"cniVersion": "1.0.0", "name": "other",
                                                        "plugins": [{"type": "never"}]}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return CniNetwork(conf, bin_dir)


def _calls(network: CniNetwork) -> list[tuple[str, dict[str, object]]]:
    lines = (network.bin_dir / "calls").read_text().splitlines()
    return [(lines[i], json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]


async def test_add_chains_prev_result_and_del_runs_in_reverse(tmp_path: Path) -> None:
    network = _network(tmp_path, [{"type": "bridge", "bridge": "br"}, {"type": "portmap", "snat": True}])
    _plugin(network.bin_dir, "bridge", RESULT)
    _plugin(network.bin_dir, "portmap", {**RESULT, "chained": True})
    args = {"K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": "vm"}
    result = await network.add("sb1", NETNS, args)
    assert result["chained"] is True
    await network.delete("sb1", NETNS, args, prev_result=result)
    calls = _calls(network)
    assert [c[0].split()[:2] for c in calls] == [["bridge", "ADD"], ["portmap", "ADD"],
                                                 ["portmap", "DEL"], ["bridge", "DEL"]]
    env = calls[0][0].split()
    assert env[2:] == ["sb1", NETNS, "eth0", str(network.bin_dir),
                       "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=vm"]
    first, second = calls[0][1], calls[1][1]
    assert first == {"type": "bridge", "bridge": "br", "name": "pods", "cniVersion": "1.0.0"}
    assert second["prevResult"] == RESULT and second["name"] == "pods"
    assert calls[2][1]["prevResult"] == result and calls[3][1]["prevResult"] == result


async def test_a_failing_plugin_reports_its_error_and_undoes_the_add(tmp_path: Path) -> None:
    network = _network(tmp_path, [{"type": "bridge"}, {"type": "portmap"}])
    _plugin(network.bin_dir, "bridge", RESULT)
    _plugin(network.bin_dir, "portmap", None, fail="no iptables")
    with pytest.raises(CniError, match=r"plugin type='portmap' failed: no iptables: why"):
        await network.add("sb1", NETNS, {})
    assert [c[0].split()[:2] for c in _calls(network)] == [
        ["bridge", "ADD"], ["portmap", "ADD"], ["portmap", "DEL"], ["bridge", "DEL"]]


async def test_a_missing_plugin_binary_is_an_error(tmp_path: Path) -> None:
    network = _network(tmp_path, [{"type": "bridge"}])
    with pytest.raises(CniError, match="bridge not found"):
        await network.add("sb1", NETNS, {})


def test_the_first_configuration_file_is_the_network(tmp_path: Path) -> None:
    with pytest.raises(CniError, match="no CNI network configuration"):
        load_network(tmp_path)
    single = {"cniVersion": "0.4.0", "name": "one", "type": "bridge"}
    (tmp_path / "05-single.conf").write_text(json.dumps(single))
    network = load_network(tmp_path)
    assert (network.name, network.cni_version, network.plugins) == ("one", "0.4.0", ({"type": "bridge"},))
    assert json.loads(plugin_stdin(network, network.plugins[0], None)) == {
        "type": "bridge", "name": "one", "cniVersion": "0.4.0"}


def test_pod_address_takes_the_ipv4_address_and_the_sandbox_interface_mac() -> None:
    address = pod_address(RESULT, NETNS)
    assert (address.ip, address.prefix_length, address.gateway, address.mac) == \
        ("10.181.0.5", 24, "10.181.0.1", "0a:58:0a:b5:00:05")
    no_index = {**RESULT, "ips": [{"address": "fd00::5/64"}, {"address": "10.181.0.6/24"}]}
    assert pod_address(no_index, NETNS).mac == "0a:58:0a:b5:00:05"
    assert pod_address(no_index, NETNS).ip == "10.181.0.6"
    with pytest.raises(CniError, match="no IPv4 address"):
        pod_address({"ips": [{"address": "fd00::5/64"}]}, NETNS)


def test_plugin_error_falls_back_to_stderr() -> None:
    assert str(plugin_error("bridge", 2, b"", b"boom\n")) == "plugin type='bridge' failed: boom"
    assert str(plugin_error("bridge", 2, b"", b"")) == "plugin type='bridge' failed: exit status 2"


NIC = GuestNic(netns_path=NETNS, tap="tap0", mac="0a:58:0a:b5:00:05", ip="10.181.0.5", prefix_length=24,
               gateway="10.181.0.1")


def test_kernel_ip_argument_is_the_static_nfsroot_form() -> None:
    assert kernel_ip_argument(NIC, "vm-pod") == "ip=10.181.0.5::10.181.0.1:255.255.255.0:vm-pod:eth0:off"
    wide = GuestNic(NETNS, "tap0", "", "10.88.3.4", 16, "")
    assert kernel_ip_argument(wide, "a:b_c" + "x" * 80) == \
        "ip=10.88.3.4:::255.255.0.0:a-b-c" + "x" * 58 + ":eth0:off"


def test_qemu_runs_in_the_namespace_with_the_nic_and_the_ip_argument() -> None:
    kwargs = {"name": "vm1", "size": VmSize(1, 128), "kernel": Path("/k"), "initrd": Path("/i"),
              "disk": Path("/d"), "qmp_socket": Path("/q")}
    plain = qemu_command(**kwargs)  # type: ignore[arg-type]
    assert plain[0] == "qemu-system-x86_64" and "-netdev" not in plain
    assert " ip=" not in plain[plain.index("-append") + 1]
    command = qemu_command(**kwargs, nic=NIC, hostname="vm-pod")  # type: ignore[arg-type]
    assert command[:3] == ["nsenter", f"--net={NETNS}", "--"] and command[3] == "qemu-system-x86_64"
    assert command[command.index("-append") + 1].endswith(
        " ip=10.181.0.5::10.181.0.1:255.255.255.0:vm-pod:eth0:off")
    assert command[-4:] == ["-netdev", "tap,id=net0,ifname=tap0,script=no,downscript=no",
                            "-device", "virtio-net-pci,netdev=net0,mac=0a:58:0a:b5:00:05,romfile="]


def test_tap_commands_redirect_both_ways(tmp_path: Path) -> None:
    commands = [" ".join(c) for c in tap_commands("ns1", 1450)]
    assert "ip -n ns1 link set tap0 mtu 1450 up" in commands
    assert any(c.startswith("tc -n ns1 filter add dev eth0 parent ffff:") and c.endswith("redirect dev tap0")
               for c in commands)
    assert any(c.startswith("tc -n ns1 filter add dev tap0 parent ffff:") and c.endswith("redirect dev eth0")
               for c in commands)
    assert netns_prefix(tmp_path) != netns_prefix(tmp_path / "other")
    assert netns_prefix(tmp_path).startswith("avm-")


class _FakeNetworks(PodNetworks):
    """PodNetworks whose setup/teardown only record (the real ones run in the component tests)."""

    def __init__(self, root: Path, *, fail: bool = False) -> None:
        super().__init__(CniNetwork(root / "net.d"), root)
        self.fail = fail
        self.torn_down: list[tuple[str, str, object]] = []

    async def setup(self, sandbox_id: str, args: Mapping[str, str]) -> SandboxNetwork:
        if self.fail:
            raise NetworkSetupError("no bridge today")
        assert args["K8S_POD_NAME"] == "vm-pod"
        return SandboxNetwork(self.netns_name(sandbox_id), pod_address(RESULT, NETNS), RESULT)

    async def teardown(self, sandbox_id: str, netns: str, cni_result: Mapping[str, Any] | None,
                       args: Mapping[str, str]) -> None:
        self.torn_down.append((sandbox_id, netns, cni_result))


def _sandbox(sandbox_id: str) -> SandboxRecord:
    return SandboxRecord(id=sandbox_id, name="vm-pod", uid="u1", namespace="default", attempt=0, created_at=1,
                         log_directory="/tmp")


async def test_inventory_records_the_network_and_tears_it_down_once(tmp_path: Path) -> None:
    networks = _FakeNetworks(tmp_path)
    inventory = Inventory(tmp_path / "root", ImageStore(tmp_path / "images"), networks)
    record = _sandbox("s1")
    await inventory.add_sandbox(record, pod_network=True)
    assert (record.netns, record.pod_ip, record.guest_mac) == (networks.netns_name("s1"), "10.181.0.5",
                                                               "0a:58:0a:b5:00:05")
    nic = guest_nic(record)
    assert nic is not None and nic.tap == "tap0"
    assert nic.netns_path == f"/run/netns/{networks.netns_name('s1')}"
    await inventory.remove_network(record)
    await inventory.remove_sandbox("s1")
    assert networks.torn_down == [("s1", networks.netns_name("s1"), RESULT)]
    assert record.pod_ip == "10.181.0.5" and guest_nic(record) is None  # the IP stays reported
    host = _sandbox("s2")
    await inventory.add_sandbox(host, pod_network=False)
    assert host.netns == "" and guest_nic(host) is None
    inventory.store.socket_dir.rmdir()  # the QMP socket directory the store made under /run


async def test_a_failed_network_setup_leaves_no_sandbox(tmp_path: Path) -> None:
    networks = _FakeNetworks(tmp_path, fail=True)
    inventory = Inventory(tmp_path / "root", ImageStore(tmp_path / "images"), networks)
    with pytest.raises(NetworkSetupError, match="no bridge today"):
        await inventory.add_sandbox(_sandbox("s1"), pod_network=True)
    assert inventory.sandboxes == {} and inventory.store.load_sandboxes() == []
    inventory.store.socket_dir.rmdir()
