"""The OCI image-layout tars ``cri.images`` writes are valid and reproducible.

Covers: oci-layout/index.json/blobs structure, every blob stored under its own sha256, the config's
diff_id matching the uncompressed layer, the containerd name annotation, symlinks kept, and the same
rootfs giving the same manifest digest twice. Leaves out: apt-get download and ``ctr import`` (the
component test builds and imports the real images).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from cri.images import write_oci_layout


def _rootfs(base: Path) -> Path:
    root = base / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(b"\x7fELF fake")
    (root / "bin" / "busybox").chmod(0o755)
    (root / "bin" / "sh").symlink_to("busybox")
    return root


def _read(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_layout_is_valid_and_content_addressed(tmp_path: Path) -> None:
    out = tmp_path / "img.tar"
    digest = write_oci_layout(_rootfs(tmp_path), out, "docker.io/library/busybox:1.36", ["sh"])
    files = _read(out)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    index = json.loads(files["index.json"])
    (entry,) = index["manifests"]
    assert entry["digest"] == digest
    assert entry["annotations"]["io.containerd.image.name"] == "docker.io/library/busybox:1.36"
    manifest = json.loads(files["blobs/sha256/" + digest.split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert config["config"]["Cmd"] == ["sh"] and config["os"] == "linux"
    layer_gz = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    layer = gzip.decompress(layer_gz)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        sh = tar.getmember("bin/sh")
        assert sh.issym() and sh.linkname == "busybox"
        assert tar.getmember("bin/busybox").uid == 0


def test_same_rootfs_same_digest(tmp_path: Path) -> None:
    root = _rootfs(tmp_path)
    first = write_oci_layout(root, tmp_path / "a.tar", "x:1", ["sh"])
    (root / "bin" / "busybox").touch()  # a new mtime must not change the image
    second = write_oci_layout(root, tmp_path / "b.tar", "x:1", ["sh"])
    assert first == second
