"""A network namespace made for one benchmark run (``ip netns add``) and removed whatever happens, so
iptables benchmarks never touch the host's tables."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator


@contextlib.contextmanager
def throwaway_netns(prefix: str) -> Iterator[str]:
    """The name of a fresh namespace ``<prefix>-<random>``, deleted on exit."""
    netns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        yield netns
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
