"""The VM image store: images built here from Debian packages, looked up by well-known names.

No image can be downloaded on these machines, so the one VM image is made locally, as
`cri.images` makes the container images: the Debian cloud kernel (``apt-get download
linux-image-<abi>-cloud-amd64`` + ``dpkg -x``), an initramfs of ``busybox-static`` with the virtio
disk modules and our `vmruntime.guest` init, and an empty qcow2 base disk that each VM overlays.
An image is a directory ``<image-dir>/<name>/`` with ``vmlinuz``, ``initrd.gz``, ``disk.qcow2`` and
``image.json`` (id, names).

Names the pod specs of Arktos's examples use map onto it (`IMAGE_NAMES`): ``cirros``,
``cirros:0.5.1``, ``download.cirros-cloud.net/0.5.1/cirros-0.5.1-x86_64-disk.img``, ``ubuntu``,
``ubuntu:20.04``, ``ubuntu:22.04``, ``arktos-vm`` and ``:latest`` / ``docker.io/library/`` forms.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vmruntime.guest import GUEST_INIT, GUEST_MODULES
from vmruntime.initramfs import entries_from_tree, gzip_archive, regular_file
from vmruntime.qemu import ensure_installed

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMAGE_DIR = REPO_ROOT / "_output" / "vm-images"
IMAGE_NAME = "arktos-vm"
IMAGE_NAMES = (
    "arktos-vm", "cirros", "cirros:0.5.1", "download.cirros-cloud.net/0.5.1/cirros-0.5.1-x86_64-disk.img",
    "ubuntu", "ubuntu:20.04", "ubuntu:22.04",
)
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"  # the cloud flavour: small, virtio-ready
# dropbear and the libraries Debian 12's host lacks; libc, libcrypt and zlib come from the host's own
# Debian packages (the same release), found through the dynamic loader.
DROPBEAR_PACKAGES = ("dropbear-bin", "libtomcrypt1", "libtommath1")
DROPBEAR_BINARIES = ("usr/sbin/dropbear", "usr/bin/dropbearkey")
LOADER = Path("/lib64/ld-linux-x86-64.so.2")
BASE_DISK_SIZE = "16M"
# Bumped when the image's contents change (2: NIC modules and dropbear); an older image is rebuilt.
IMAGE_FORMAT = 2  # the boot counter needs one sector; guests keep everything else in RAM


class ImageBuildError(RuntimeError):
    """A package could not be fetched or the image not assembled; the message says which step."""


@dataclass(frozen=True, slots=True)
class VmImage:
    """One image in the store."""

    id: str
    names: tuple[str, ...]
    directory: Path
    size: int

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.gz"

    @property
    def disk(self) -> Path:
        return self.directory / "disk.qcow2"


def normalize(name: str) -> str:
    """``docker.io/library/cirros:latest`` → ``cirros``: the forms a kubelet may send for one name."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.endswith(":latest"):
        name = name[: -len(":latest")]
    return name


class ImageStore:
    """The images under ``image_dir``, read once at start-up and on `reload`."""

    def __init__(self, image_dir: Path) -> None:
        self.image_dir = image_dir
        self._images: list[VmImage] = []
        self.reload()

    def reload(self) -> None:
        images = []
        if self.image_dir.is_dir():
            for meta in sorted(self.image_dir.glob("*/image.json")):
                data = json.loads(meta.read_text())
                images.append(VmImage(id=str(data["id"]), names=tuple(data["names"]),
                                      directory=meta.parent, size=int(data.get("size", 0))))
        self._images = images

    def all(self) -> list[VmImage]:
        return list(self._images)

    def find(self, name: str) -> VmImage | None:
        """By any of its names (normalized) or by id (``sha256:...``, also without the prefix)."""
        wanted = normalize(name)
        for image in self._images:
            if wanted in image.names or name in (image.id, image.id.removeprefix("sha256:")):
                return image
        return None


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ImageBuildError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    return done.stdout


def _download(package: str, work: Path) -> Path:
    """``apt-get download`` + ``dpkg -x`` into ``work/<package>`` (nothing installed on the host)."""
    _run(["apt-get", "download", package], cwd=work)
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise ImageBuildError(f"apt-get download {package} produced no .deb")
    target = work / package
    _run(["dpkg", "-x", str(debs[-1]), str(target)])
    return target


def _kernel_package() -> str:
    """The versioned kernel package the metapackage currently depends on."""
    for line in _run(["apt-cache", "depends", KERNEL_METAPACKAGE]).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "Depends:" and parts[1].startswith("linux-image-"):
            return parts[1]
    raise ImageBuildError(f"apt-cache depends {KERNEL_METAPACKAGE} names no kernel package")


def _shared_libraries(binary: Path, library_dirs: list[Path]) -> list[Path]:
    """The files ``binary`` loads, resolved by the host's loader with ``library_dirs`` first (``ldd``)."""
    env = {"LD_LIBRARY_PATH": ":".join(str(d) for d in library_dirs), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0 or "not found" in done.stdout:
        raise ImageBuildError(f"ldd {binary}: {done.stdout.strip()} {done.stderr.strip()}")
    found = []
    for line in done.stdout.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            found.append(Path(path))
    return found


def _add_dropbear(packages: list[Path], root: Path) -> None:
    """dropbear and dropbearkey into ``root/bin``, every library they load into ``root/lib/<triplet>``
    (and the loader at its ABI path), so the busybox guest runs them."""
    library_dirs = [p / "usr/lib/x86_64-linux-gnu" for p in packages]
    lib_dir = root / "lib/x86_64-linux-gnu"  # a directory the loader searches without ld.so.cache
    for directory in (root / "lib64", lib_dir):
        directory.mkdir(parents=True, exist_ok=True)
    for relative in DROPBEAR_BINARIES:
        binary = packages[0] / relative
        shutil.copy2(binary, root / "bin" / binary.name)
        for library in _shared_libraries(binary, library_dirs):
            target = root / "lib64" / library.name if library == LOADER else lib_dir / library.name
            shutil.copyfile(library.resolve(), target)
            target.chmod(0o755)
    (root / "etc/shells").write_text("/bin/sh\n")


def _initramfs(busybox: Path, modules: dict[str, Path], dropbear: list[Path], out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("bin", "sbin", "dev", "proc", "sys", "tmp", "root", "etc", "lib/modules", "arktos"):
            (root / name).mkdir(parents=True, exist_ok=True)
        shutil.copy2(busybox, root / "bin" / "busybox")
        for applet in _run([str(busybox), "--list"]).split():
            link = root / "bin" / applet
            if not link.exists():
                link.symlink_to("busybox")
        for name, path in modules.items():
            shutil.copy2(path, root / "lib" / "modules" / f"{name}.ko")
        (root / "lib/modules/load-order").write_text("\n".join(modules) + "\n")
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (root / "etc/group").write_text("root:x:0:\n")
        _add_dropbear(dropbear, root)
        entries = entries_from_tree(root)
        entries = [e for e in entries if e.path != "init"]
        out.write_bytes(gzip_archive([*entries, regular_file("init", GUEST_INIT.encode(), 0o755)]))


def _image_format(directory: Path) -> int:
    try:
        return int(json.loads((directory / "image.json").read_text()).get("format", 1))
    except (OSError, ValueError, AttributeError):
        return 0


def build_image(image_dir: Path = DEFAULT_IMAGE_DIR, *, force: bool = False) -> VmImage:
    """Build ``<image_dir>/arktos-vm`` unless it exists (or ``force``); atomic (temp dir + rename)."""
    final = image_dir / IMAGE_NAME
    if (final / "image.json").exists() and not force and _image_format(final) == IMAGE_FORMAT:
        found = ImageStore(image_dir).find(IMAGE_NAME)
        if found is not None:
            return found
    ensure_installed()  # qemu-img makes the base disk
    image_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=image_dir, prefix=".build-") as tmp:
        work = Path(tmp)
        staging = work / "image"
        staging.mkdir()
        kernel_root = _download(_kernel_package(), work)
        busybox_root = _download("busybox-static", work)
        dropbear = [_download(package, work) for package in DROPBEAR_PACKAGES]
        kernels = sorted((kernel_root / "boot").glob("vmlinuz-*"))
        if not kernels:
            raise ImageBuildError("kernel package has no boot/vmlinuz-*")
        shutil.copy2(kernels[-1], staging / "vmlinuz")
        modules: dict[str, Path] = {}
        for name in GUEST_MODULES:
            candidates = sorted(kernel_root.glob(f"lib/modules/*/kernel/**/{name}.ko"))
            if candidates:  # a module built into the kernel has no .ko: nothing to load
                modules[name] = candidates[0]
        _initramfs(busybox_root / "bin" / "busybox", modules, dropbear, staging / "initrd.gz")
        _run(["qemu-img", "create", "-q", "-f", "qcow2", str(staging / "disk.qcow2"), BASE_DISK_SIZE])
        digest = hashlib.sha256()
        for part in ("vmlinuz", "initrd.gz"):
            digest.update((staging / part).read_bytes())
        size = sum(p.stat().st_size for p in staging.iterdir())
        meta = {"id": "sha256:" + digest.hexdigest(), "names": list(IMAGE_NAMES), "size": size,
                "format": IMAGE_FORMAT,
                "kernel": kernels[-1].name.removeprefix("vmlinuz-")}
        (staging / "image.json").write_text(json.dumps(meta, indent=1))
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    image = ImageStore(image_dir).find(IMAGE_NAME)
    assert image is not None
    return image


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the local VM image store.")
    parser.add_argument("--image-dir", type=Path, default=DEFAULT_IMAGE_DIR)
    parser.add_argument("--force", action="store_true", help="rebuild even when present")
    args = parser.parse_args(argv)
    image = build_image(args.image_dir, force=args.force)
    print(f"{image.directory}: {image.id} -> {', '.join(image.names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
