"""The image registry the tests' containerds pull from: one per pytest session, shared by every module.

``shared_registry()`` returns ``host:port`` of a registry holding every image :mod:`cri.images`
builds (busybox, pause, nginx, python, clusterdns; the build is cached outside the checkout, so
after the first session on a machine it takes well under a second). With ``ARKTOS_TEST_REGISTRY=host:port``
set, that registry is used as it is (nothing is built or pushed). Otherwise Debian's
``docker-registry`` starts on a free loopback port with its storage in a temp directory, and stops
when the session's process exits. Give the address to ``ContainerdLayout(registry=...)``: containerd
then pulls docker.io, registry.k8s.io, gcr.io, quay.io and ghcr.io names from it.

Import it as ``registry_env`` (``sys.path`` gets ``test/``; see test/component/containerd_env.py).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import tempfile
from pathlib import Path

from cri.image_push import push_images
from cri.images import build_all, default_cache_dir
from cri.oci_image import BlobStore
from cri.registry import RegistryLayout, RegistryProcess

ENV_REGISTRY = "ARKTOS_TEST_REGISTRY"
_started: list[str] = []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_registry() -> str:
    """``host:port`` of the session's registry, started and filled on first call."""
    if _started:
        return _started[0]
    address = os.environ.get(ENV_REGISTRY)
    if not address:
        base = Path(tempfile.mkdtemp(prefix="arktos-test-registry-"))
        process = RegistryProcess(RegistryLayout(base, f"127.0.0.1:{_free_port()}"))
        process.start()
        atexit.register(process.stop, remove_dirs=True)
        cache_dir = default_cache_dir()
        try:
            asyncio.run(push_images(process.address, build_all(cache_dir), BlobStore(cache_dir)))
        except BaseException:
            process.stop(remove_dirs=True)
            raise
        address = process.address
    _started.append(address)
    return address
