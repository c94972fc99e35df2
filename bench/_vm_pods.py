"""What the VM benchmark knows about VM pods: their manifest, when they count as running and
booted, their serial log read through the API, and their qemu processes seen in /proc.

A VM pod (ARKTOS.md §4) has ``spec.virtualMachine`` instead of containers; the node's qemu VM
runtime boots it and the kubelet reports ``status.virtualMachineStatus.powerState``. The guest
(vmruntime/guest.py) prints ``arktos-vm: <name> ready`` on its serial console once its init has
run the user data, and the console is the pod's log (``kubectl logs``), so the benchmark reads
the log through the API server's pods/log proxy — the path a user watches — rather than the
runtime's log file. qemu's resident memory and CPU time come from /proc: the processes are found
by their command line, which names the VM's disk under the cluster's data dir.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from server_process import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))
from client.config import ClientConfig
from client.resources import ResourceRef, resource_path

PODS = ResourceRef("", "v1", "pods", "Pod")
LABEL_KEY = "bench"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIArktosBenchKeyOnlyForTheVmPodBench arktos@bench"
USER_DATA = "#!/bin/sh\necho vm bench user data ran\n"
READY_LINE = re.compile(r"arktos-vm: \S+ ready")
QEMU_BINARY = b"qemu-system-x86_64"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def vm_pod_body(name: str, *, label: str, memory_mib: int, cpu_request: str | None = None) -> dict[str, Any]:
    """A 1-vCPU VM pod of ``memory_mib`` (as test/e2e/test_arktos_up_vm.py's). The vCPU count
    comes from the CPU *limit*; ``cpu_request`` (default: the limit, by API defaulting) lets the
    capacity run pack VMs by memory instead of by a whole core each."""
    resources: dict[str, Any] = {"limits": {"cpu": "1", "memory": f"{memory_mib}Mi"}}
    if cpu_request is not None:
        resources["requests"] = {"cpu": cpu_request, "memory": f"{memory_mib}Mi"}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {LABEL_KEY: label}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "virtualMachine": {
                "name": "vm", "image": "cirros", "publicKey": PUBLIC_KEY,
                "userData": base64.b64encode(USER_DATA.encode()).decode(),
                "resources": resources,
            },
        },
    }


def vm_running(pod: dict[str, Any]) -> bool:
    """Phase Running and the VM's power state running (what `kubectl get` shows as a live VM)."""
    status = pod.get("status") or {}
    power = str((status.get("virtualMachineStatus") or {}).get("powerState") or "")
    return status.get("phase") == "Running" and power.lower() == "running"


def unschedulable_reason(pod: dict[str, Any]) -> str:
    """The scheduler's PodScheduled=False message, empty while none is set."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return str(condition.get("message") or condition.get("reason") or "unschedulable")
    return ""


class PodLogReader:
    """GETs pods/{name}/log through the API server (the kubelet proxy behind `kubectl logs`).
    `client.rest.ApiClient` decodes only JSON answers, so the plain-text log gets its own session."""

    def __init__(self, config: ClientConfig, *, tenant: str, namespace: str) -> None:
        self.config = config
        self.tenant = tenant
        self.namespace = namespace
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PodLogReader:
        connector = aiohttp.TCPConnector(ssl=self.config.ssl_context() or False, limit=20)
        self._session = aiohttp.ClientSession(connector=connector, headers=self.config.auth_headers())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def text(self, name: str) -> str | None:
        """The whole log, or None while there is none to read (no container yet: 400/404)."""
        assert self._session is not None, "use PodLogReader with async with"
        path = resource_path(PODS, tenant=self.tenant, namespace=self.namespace, name=name, subresource="log")
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with self._session.get(self.config.server + path, timeout=timeout) as response:
                if response.status != 200:
                    return None
                return await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def booted(self, name: str) -> bool:
        text = await self.text(name)
        return bool(text and READY_LINE.search(text))


@dataclass(frozen=True)
class QemuProcess:
    pid: int
    rss_bytes: int
    cpu_ticks: int  # utime + stime
    pss_bytes: int  # proportional share: libraries shared by the qemus counted once overall
    anon_bytes: int  # mostly guest RAM the guest has touched


def _smaps_rollup(entry: Path) -> dict[str, int]:
    """Pss/Anonymous (bytes) from smaps_rollup; empty when the process went away."""
    sizes: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for text in (entry / "smaps_rollup").read_text().splitlines():
            key, _, rest = text.partition(":")
            if key in ("Pss", "Anonymous"):
                sizes[key] = int(rest.split()[0]) * 1024
    return sizes


def _read_qemu(entry: Path, marker: bytes | None) -> QemuProcess | None:
    try:
        cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        if not cmdline or not cmdline[0].endswith(QEMU_BINARY):
            return None
        if marker is not None and not any(marker in arg for arg in cmdline):
            return None
        stat = (entry / "stat").read_text()
    except OSError:  # gone while we looked
        return None
    # Fields after the parenthesised command name: state is field 3, utime 14, stime 15, rss 24.
    fields = stat.rsplit(")", 1)[1].split()
    sizes = _smaps_rollup(entry)
    return QemuProcess(pid=int(entry.name), rss_bytes=int(fields[21]) * PAGE_SIZE,
                       cpu_ticks=int(fields[11]) + int(fields[12]),
                       pss_bytes=sizes.get("Pss", 0), anon_bytes=sizes.get("Anonymous", 0))


def qemu_processes(data_dir: Path | None) -> list[QemuProcess]:
    """Every qemu whose command line names ``data_dir`` (every qemu on the host when None)."""
    marker = str(data_dir).encode() if data_dir is not None else None
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(ValueError, IndexError):
                process = _read_qemu(entry, marker)
                if process is not None:
                    found.append(process)
    return found


def mem_available_bytes() -> int:
    for text in Path("/proc/meminfo").read_text().splitlines():
        if text.startswith("MemAvailable:"):
            return int(text.split()[1]) * 1024
    raise RuntimeError("/proc/meminfo has no MemAvailable")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
