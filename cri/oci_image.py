"""OCI image pieces - gzip layers, the image config, the manifest - kept in a content-addressed store.

A layer is a deterministic tar of a directory (sorted entries, root-owned, mtime 0) so the same files
always give the same digest: a rebuild pushes nothing new, and images that share a base layer share
its blob (in the registry and in containerd's content store). Every blob lives under
``blobs/sha256/<hex>`` of a :class:`BlobStore` - the same shape as an OCI image layout - and is
written atomically, so several builds on one machine may share the store.

The manifest is an OCI image manifest (``application/vnd.oci.image.manifest.v1+json``) with gzip
layers: Distribution 2.8 stores it and containerd 1.6 pulls it like a Docker schema-2 manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs by digest under ``root/blobs/sha256``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dir = root / "blobs" / "sha256"

    def path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or not hexdigest:
            raise ValueError(f"unsupported digest {digest!r}")
        return self._dir / hexdigest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def put(self, data: bytes) -> str:
        digest = sha256_digest(data)
        target = self.path(digest)
        if not target.is_file():
            self._dir.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(dir=self._dir, prefix=".partial-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(partial, 0o644)
            os.replace(partial, target)
        return digest


@dataclass(frozen=True)
class Layer:
    """A gzip layer blob: ``digest``/``size`` of the compressed bytes, ``diff_id`` of the tar."""

    digest: str
    diff_id: str
    size: int

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": LAYER_MEDIA_TYPE, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class RunConfig:
    """The ``config`` part of an image config: what a container runs when the pod does not say."""

    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    env: tuple[str, ...] = (DEFAULT_PATH,)
    working_dir: str = "/"
    exposed_ports: tuple[str, ...] = ()
    stop_signal: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        config: dict[str, object] = {"Env": list(self.env), "WorkingDir": self.working_dir}
        if self.cmd:
            config["Cmd"] = list(self.cmd)
        if self.entrypoint:
            config["Entrypoint"] = list(self.entrypoint)
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.stop_signal:
            config["StopSignal"] = self.stop_signal
        if self.labels:
            config["Labels"] = dict(self.labels)
        return config


@dataclass(frozen=True)
class Manifest:
    """A stored manifest: its bytes (pushed as they are), digest, and every blob it references."""

    digest: str
    data: bytes
    config_digest: str
    layers: tuple[Layer, ...]
    media_type: str = MANIFEST_MEDIA_TYPE

    @property
    def blob_digests(self) -> tuple[str, ...]:
        return (self.config_digest, *(layer.digest for layer in self.layers))


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def tar_directory(rootfs: Path) -> bytes:
    """A deterministic uncompressed tar of ``rootfs``: sorted entries, root-owned, mtime 0; hard
    links inside the tree stay hard links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return buf.getvalue()


def store_layer(rootfs: Path, store: BlobStore, compresslevel: int = 6) -> Layer:
    """Tar, gzip (no name, mtime 0: reproducible) and store ``rootfs`` as one layer."""
    tar_bytes = tar_directory(rootfs)
    compressed = gzip.compress(tar_bytes, compresslevel=compresslevel, mtime=0)
    return Layer(digest=store.put(compressed), diff_id=sha256_digest(tar_bytes), size=len(compressed))


def store_manifest(layers: tuple[Layer, ...], run: RunConfig, store: BlobStore,
                   *, created_by: str = "arktos-py cri.images") -> Manifest:
    """The image config and the OCI manifest over ``layers`` (base first), both stored."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": run.to_json(),
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": created_by} for _ in layers],
    }
    config_bytes = _canonical_json(config)
    config_digest = store.put(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": len(config_bytes)},
        "layers": [layer.descriptor() for layer in layers],
    }
    data = _canonical_json(manifest)
    return Manifest(digest=store.put(data), data=data, config_digest=config_digest, layers=layers)
