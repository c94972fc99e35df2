"""OCI layers and manifests as ``cri.oci_image`` stores them: valid, content-addressed, reproducible.

Covers: every blob stored under its own sha256; the gzip layer's diff_id matching the tar; symlinks
and root ownership in the layer; the config's run settings (Cmd, Entrypoint, WorkingDir, ExposedPorts,
StopSignal) and one diff_id per layer in order; the OCI media types; the same tree giving the same
digests twice (mtimes ignored), so a shared base layer is one blob. Leaves out: apt and the registry
(the component tests build, push and pull the real images).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from cri.oci_image import (
    CONFIG_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    BlobStore,
    RunConfig,
    store_layer,
    store_manifest,
)


def _rootfs(base: Path) -> Path:
    root = base / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(b"\x7fELF fake")
    (root / "bin" / "busybox").chmod(0o755)
    (root / "bin" / "sh").symlink_to("busybox")
    return root


def test_layer_is_content_addressed_gzip_tar(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    layer = store_layer(_rootfs(tmp_path), store)
    compressed = store.read(layer.digest)
    assert layer.digest == "sha256:" + hashlib.sha256(compressed).hexdigest()
    assert layer.size == len(compressed)
    tar_bytes = gzip.decompress(compressed)
    assert layer.diff_id == "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        sh = tar.getmember("bin/sh")
        assert sh.issym() and sh.linkname == "busybox"
        busybox = tar.getmember("bin/busybox")
        assert (busybox.uid, busybox.mtime, busybox.mode & 0o777) == (0, 0, 0o755)


def test_same_tree_same_digest(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    root = _rootfs(tmp_path)
    first = store_layer(root, store)
    (root / "bin" / "busybox").touch()  # a new mtime must not change the layer
    assert store_layer(root, store) == first


def test_manifest_references_config_and_layers_in_order(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    base = store_layer(_rootfs(tmp_path), store)
    top_dir = tmp_path / "top"
    (top_dir / "usr/bin").mkdir(parents=True)
    (top_dir / "usr/bin/wget").write_bytes(b"gnu")
    top = store_layer(top_dir, store)
    run = RunConfig(cmd=("nginx", "-g", "daemon off;"), working_dir="/opt", exposed_ports=("80/tcp",),
                    stop_signal="SIGQUIT", entrypoint=("/docker-entrypoint.sh",))
    manifest = store_manifest((base, top), run, store)

    assert store.read(manifest.digest) == manifest.data
    parsed = json.loads(manifest.data)
    assert parsed["mediaType"] == MANIFEST_MEDIA_TYPE and parsed["schemaVersion"] == 2
    assert parsed["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    assert [entry["digest"] for entry in parsed["layers"]] == [base.digest, top.digest]
    assert {entry["mediaType"] for entry in parsed["layers"]} == {LAYER_MEDIA_TYPE}
    assert manifest.blob_digests == (manifest.config_digest, base.digest, top.digest)

    config = json.loads(store.read(manifest.config_digest))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [base.diff_id, top.diff_id]}
    assert len(config["history"]) == 2
    assert config["config"]["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert config["config"]["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert config["config"]["WorkingDir"] == "/opt"
    assert config["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert config["config"]["StopSignal"] == "SIGQUIT"
    assert config["config"]["Env"][0].startswith("PATH=")
    assert (config["os"], config["architecture"]) == ("linux", "amd64")


def test_images_sharing_a_base_share_its_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    base = store_layer(_rootfs(tmp_path), store)
    one = store_manifest((base,), RunConfig(cmd=("sh",)), store)
    two = store_manifest((base,), RunConfig(cmd=("python3",)), store)
    assert one.digest != two.digest and one.layers == two.layers
    assert len(list((tmp_path / "store/blobs/sha256").iterdir())) == 5  # layer, 2 configs, 2 manifests
