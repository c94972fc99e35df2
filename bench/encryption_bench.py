"""What encryption at rest costs per stored value: write and read through `TransformingBackend`.

Prints one `name: value unit` line per provider (aesgcm, aescbc, secretbox) and for a resource
without encryption (the identity path every other value takes), for a 1 KiB and a 16 KiB value,
over the in-memory store. In-process, no server: the difference to the ``none`` lines is the
transformer's own cost, which a Secret pays once per write and once when the watch cache decodes
the write (GETs are served from the cache).
Not a test: there is no target; docs/design/secrets-at-rest.md quotes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time

from server.resources.builtin import builtin_catalogue
from server.storage.encryption_config import build_encryption_config, segment_transformers
from server.storage.memory import MemoryBackend
from server.storage.transforming import TransformingBackend
from server.storage.value_transformers import IdentityTransformer

SECRETS_PREFIX = "/registry/secrets/acme/default/db"
PODS_PREFIX = "/registry/pods/acme/default/web"


def backend_for(provider: str) -> TransformingBackend:
    secret = base64.b64encode(os.urandom(32)).decode()
    config = build_encryption_config({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"],
                       "providers": [{provider: {"keys": [{"name": "k1", "secret": secret}]}}]}]})
    return TransformingBackend(MemoryBackend(), segment_transformers(config, builtin_catalogue()),
                               default=IdentityTransformer())


async def measure(name: str, backend: TransformingBackend, prefix: str, size: int, rounds: int) -> None:
    """Creates ``rounds`` values then reads each back, through the backend's public contract (the
    memory store beneath costs the same for every provider: compare with the ``none`` lines)."""
    await backend.start()
    value = b'{"data":"' + b"x" * size + b'"}'
    keys = [f"{prefix}-{size}-{i}" for i in range(rounds)]
    started = time.perf_counter()
    for key in keys:
        await backend.create(key, value)
    write = (time.perf_counter() - started) / rounds * 1e6
    started = time.perf_counter()
    for key in keys:
        kv = await backend.get(key)
    read = (time.perf_counter() - started) / rounds * 1e6
    assert kv is not None and kv.value == value
    await backend.close()
    print(f"encryption_{name}_{size // 1024}kib_write: {write:.3g} us/value", flush=True)
    print(f"encryption_{name}_{size // 1024}kib_read: {read:.3g} us/value", flush=True)


async def run(rounds: int) -> None:
    for size in (1024, 16 * 1024):
        for provider in ("aesgcm", "aescbc", "secretbox"):
            await measure(provider, backend_for(provider), SECRETS_PREFIX, size, rounds)
        await measure("none", backend_for("aesgcm"), PODS_PREFIX, size, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10_000)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
