"""Installing a daemon's Debian packages on first use (no systemd units or images bring them here).

containerd (:mod:`cri.containerd_process`) and the image registry (:mod:`cri.registry`) install
what they miss the same way: ``apt-get update`` then ``apt-get install -y``, as root only.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence


class AptInstallError(RuntimeError):
    """Not root, or apt failed; the message carries the command to run or apt's error."""


def apt_install(packages: Sequence[str]) -> None:
    if os.geteuid() != 0:
        raise AptInstallError(f"not root: apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise AptInstallError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-1500:]}")
