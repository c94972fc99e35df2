"""VM networking seen from the test host: a throwaway key pair and ``ssh -i KEY root@IP CMD``, the
IPs host-local holds and the network namespaces a VM runtime made.

openssh-client is installed with apt when the host lacks it (the tests run as root, as on CI).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

from vmruntime.podnet import NETNS_DIR, netns_prefix

SSH_TIMEOUT_S = 60.0


def ensure_ssh_client() -> None:
    if shutil.which("ssh") and shutil.which("ssh-keygen"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-client"]):
        subprocess.run(command, check=True, capture_output=True, env=env)


def ssh_key_pair(directory: Path) -> tuple[Path, str]:
    """A new ed25519 key pair in ``directory``: (private key path, public key line)."""
    ensure_ssh_client()
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "arktos-test", "-f", str(key)],
                   check=True, capture_output=True)
    return key, key.with_suffix(".pub").read_text().strip()


async def ssh_run(key: Path, ip: str, command: str, *, within_s: float = SSH_TIMEOUT_S) -> str:
    """``ssh -i key root@ip command``'s stdout, retried until the guest's dropbear answers."""
    args = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", f"root@{ip}", command]
    deadline = time.monotonic() + within_s
    last = ""
    while time.monotonic() < deadline:
        process = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                       stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await process.communicate()
        if process.returncode == 0:
            return stdout.decode().strip()
        last = stderr.decode(errors="replace").strip()
        await asyncio.sleep(1)
    raise AssertionError(f"ssh root@{ip} {command!r} did not succeed within {within_s}s: {last}")


def host_local_ips(cni_data_dir: Path, network: str = "arktos-pods") -> set[str]:
    """The IPs host-local has handed out on ``network`` (one file per IP, named by it)."""
    directory = cni_data_dir / network
    return {p.name for p in directory.iterdir() if p.name[0].isdigit()} if directory.is_dir() else set()


def vm_namespaces(runtime_root: Path) -> list[str]:
    """The network namespaces of the VM runtime whose ``--root`` is ``runtime_root``."""
    prefix = netns_prefix(runtime_root)
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
