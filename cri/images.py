"""Builds the node's container images locally and imports them into containerd.

There is no registry on these machines, so the images a pod names (``busybox``, the sandbox ``pause``
image) are made here: a rootfs from Debian packages packed as an OCI image-layout tar (``tarfile`` +
sha256, one gzip layer), then ``ctr -n k8s.io images import``-ed and tagged with the well-known names
that upstream manifests use. Built tars are cached under a build directory so the work happens once.

``pause`` is a tiny static C program (compiled with gcc, as upstream's ``build/pause/linux/pause.c``
behaves: sleep until SIGINT/SIGTERM, reap zombies); busybox ``sleep infinity`` is the fallback when no
compiler is present.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUILD_DIR = REPO_ROOT / "_output" / "images"
K8S_NAMESPACE = "k8s.io"  # containerd namespace the CRI plugin serves

BUSYBOX_NAMES = ("docker.io/library/busybox:latest", "docker.io/library/busybox:1.36")
PAUSE_IMAGE = "registry.k8s.io/pause:3.9"
PAUSE_NAMES = (PAUSE_IMAGE,)
_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_PAUSE_C = r"""
/* Sandbox holder for a pod: sleeps as PID 1 until told to stop, reaping orphans meanwhile. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
    struct sigaction on_stop = {.sa_handler = stop};
    struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGINT, &on_stop, NULL);
    sigaction(SIGTERM, &on_stop, NULL);
    sigaction(SIGCHLD, &on_child, NULL);
    for (;;) pause();
}
"""


class ImageBuildError(RuntimeError):
    """A package could not be fetched or an image not built/imported; the message says which."""


@dataclass(frozen=True)
class BuiltImage:
    """An OCI image-layout tar on disk and the names it is imported under."""

    name: str
    tar_path: Path
    names: tuple[str, ...]


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ImageBuildError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer_from_dir(rootfs: Path) -> bytes:
    """A deterministic uncompressed tar of ``rootfs``: sorted entries, root-owned, fixed mtimes, so the
    same packages always give the same digest (and containerd dedups re-imports)."""
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


def write_oci_layout(rootfs: Path, out_tar: Path, ref_name: str, cmd: list[str]) -> str:
    """Pack ``rootfs`` as a one-layer OCI image-layout tar (oci-layout, index.json, blobs); returns the
    manifest digest. ``ref_name`` goes into the index annotations that ``ctr images import`` names from."""
    layer = _layer_from_dir(rootfs)
    layer_gz = gzip.compress(layer, compresslevel=6, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [_PATH_ENV], "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [_sha256(layer)]},
        "history": [{"created_by": "arktos-py cri.images", "created": "1970-01-01T00:00:00Z"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha256(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha256(layer_gz), "size": len(layer_gz)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = _sha256(manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": ref_name,
                            "org.opencontainers.image.ref.name": ref_name.rsplit(":", 1)[-1]},
        }],
    }
    files: dict[str, bytes] = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
    }
    for blob in (layer_gz, config_bytes, manifest_bytes):
        files["blobs/sha256/" + _sha256(blob).split(":", 1)[1]] = blob
    out_tar.parent.mkdir(parents=True, exist_ok=True)
    partial = out_tar.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for name in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, out_tar)
    return manifest_digest


def _base_rootfs(rootfs: Path) -> None:
    """Directories and identity files every image here carries (runc bind-mounts /proc, /dev, ...)."""
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "var/www", "usr/bin", "usr/sbin", "sbin"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (rootfs / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")


def _busybox_binary(work: Path) -> Path:
    """``busybox`` from the Debian ``busybox-static`` package (apt-get download + dpkg -x; no root
    needed, nothing installed on the host)."""
    _run(["apt-get", "download", "busybox-static"], cwd=work)
    debs = sorted(work.glob("busybox-static_*.deb"))
    if not debs:
        raise ImageBuildError("apt-get download busybox-static produced no .deb")
    extracted = work / "deb"
    _run(["dpkg", "-x", str(debs[-1]), str(extracted)])
    binary = extracted / "bin" / "busybox"
    if not binary.exists():
        raise ImageBuildError(f"{debs[-1].name} has no bin/busybox")
    return binary


def build_busybox(build_dir: Path = DEFAULT_BUILD_DIR) -> BuiltImage:
    """The busybox image: /bin/busybox plus a symlink for every applet it lists (sh, ls, cat, echo,
    sleep, httpd, wget, nc, hostname, env, ps, ...)."""
    out = build_dir / "busybox.oci.tar"
    if not out.exists():
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            binary = _busybox_binary(work)
            rootfs = work / "rootfs"
            _base_rootfs(rootfs)
            shutil.copy2(binary, rootfs / "bin" / "busybox")
            applets = _run([str(binary), "--list"]).split()
            for applet in applets:
                link = rootfs / "bin" / applet
                if not link.exists():
                    link.symlink_to("busybox")
            write_oci_layout(rootfs, out, BUSYBOX_NAMES[0], ["sh"])
    return BuiltImage("busybox", out, BUSYBOX_NAMES)


def build_pause(build_dir: Path = DEFAULT_BUILD_DIR) -> BuiltImage:
    """The sandbox image: a static ``/pause`` from C with gcc; without gcc, busybox ``sleep infinity``."""
    out = build_dir / "pause.oci.tar"
    if not out.exists():
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            rootfs = work / "rootfs"
            _base_rootfs(rootfs)
            gcc = shutil.which("gcc")
            if gcc:
                (work / "pause.c").write_text(_PAUSE_C)
                _run([gcc, "-Os", "-static", "-s", "-o", str(rootfs / "pause"), str(work / "pause.c")])
                cmd = ["/pause"]
            else:
                shutil.copy2(_busybox_binary(work), rootfs / "bin" / "busybox")
                (rootfs / "bin" / "sleep").symlink_to("busybox")
                cmd = ["/bin/sleep", "infinity"]
            write_oci_layout(rootfs, out, PAUSE_NAMES[0], cmd)
    return BuiltImage("pause", out, PAUSE_NAMES)


def build_all(build_dir: Path = DEFAULT_BUILD_DIR) -> list[BuiltImage]:
    return [build_busybox(build_dir), build_pause(build_dir)]


def import_image(image: BuiltImage, address: str, ctr: str = "ctr") -> None:
    """``ctr images import`` (which unpacks into the default snapshotter) under the first name, then tag
    the other well-known names onto the same manifest."""
    base = [ctr, "--address", address, "-n", K8S_NAMESPACE]
    _run([*base, "images", "import", str(image.tar_path)])
    for extra in image.names[1:]:
        _run([*base, "images", "tag", "--force", image.names[0], extra])


def build_and_import_all(address: str, build_dir: Path = DEFAULT_BUILD_DIR) -> list[BuiltImage]:
    """What ``hack/build-images.sh`` and the tests call: build once (cached), import every time
    (cheap: containerd already has the blobs)."""
    images = build_all(build_dir)
    for image in images:
        import_image(image, address)
    return images


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the local busybox/pause OCI images.")
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument("--import-to", metavar="ADDRESS", help="containerd socket to import into")
    args = parser.parse_args(argv)
    if args.import_to:
        images = build_and_import_all(args.import_to, args.build_dir)
    else:
        images = build_all(args.build_dir)
    for image in images:
        print(f"{image.name}: {image.tar_path} -> {', '.join(image.names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
