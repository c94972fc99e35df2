"""The node's images, built from Debian packages: busybox, pause, nginx, python and clusterdns.

There is no public registry on these machines, so the images pods name are made here and pushed to
the local registry (:mod:`cri.image_push`); containerd pulls them from there like from any registry.
Each image is a few gzip layers (:mod:`cri.oci_image`) over packages unpacked by
:mod:`cri.debian_packages`:

* ``base`` - users, groups, ``nsswitch.conf``, libc and Debian's (dynamic) ``busybox`` with its
  applets in ``/bin`` (a shell and the usual tools in every image). Shared by busybox, nginx, python.
* ``busybox`` = base + GNU ``wget``: Debian 12's busybox 1.35 ``wget`` applet segfaults at start on
  these machines, so there is no ``wget`` applet link and ``/usr/bin/wget`` is GNU's. Not
  ``busybox-static``: it is built to prefer its applets, so ``sh -c wget`` would still run the
  crashing applet; the dynamic build's shell looks commands up in PATH. ``nslookup``, ``nc``,
  ``ping`` are busybox's.
* ``nginx`` = base + ``nginx-light``, the default site on port 80, ``nginx -g 'daemon off;'``, logs
  to the container's stdout/stderr - as the upstream nginx image.
* ``python`` = base + ``python3``, ``python3-kubernetes``, ``python3-dnslib``.
* ``clusterdns`` = python + the repo's ``clusterdns/`` in ``/opt/arktos``.
* ``pause`` = one static C binary (upstream's ``build/pause/linux/pause.c`` behaviour: sleep until
  SIGINT/SIGTERM, reap zombies); busybox ``sleep infinity`` when there is no C compiler.

Every layer is cached by what goes into it (package versions, file contents, recipe version) under
``${XDG_CACHE_HOME:-$HOME/.cache}/arktos/images``, outside the checkout, so a second build - also from
a fresh clone - only re-reads the apt package lists and writes two small JSON blobs per image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cri.debian_packages import DebianPackages, Package, PackageError
from cri.oci_image import BlobStore, Layer, Manifest, RunConfig, store_layer, store_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
PAUSE_IMAGE = "registry.k8s.io/pause:3.9"
# Bump when the layer format changes (invalidates the whole layer cache); a recipe's own code is part
# of its layers' keys already (see `ImageBuilder.package_layer`).
RECIPE_VERSION = "2"
# Unpacked for nothing: apt's and dpkg's own machinery (no maintainer scripts run in an image).
EXCLUDED_PACKAGES = frozenset({"debconf", "dpkg", "tar", "perl-base"})

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
    """An image could not be built; the message says which step failed."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "arktos" / "images"


@dataclass(frozen=True)
class BuiltImage:
    """A manifest in the cache and the ``repository: tags`` it is published under."""

    name: str
    manifest: Manifest
    tags: dict[str, tuple[str, ...]]

    def references(self) -> list[str]:
        return [f"{repo}:{tag}" for repo, tags in self.tags.items() for tag in tags]


class ImageBuilder:
    """Builds layers once per content key; holds the cache lock while building."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.store = BlobStore(cache_dir)
        self.packages = DebianPackages(cache_dir)
        self._layers = cache_dir / "layers"
        self._resolved: dict[tuple[str, ...], tuple[Package, ...]] = {}

    def resolve(self, names: tuple[str, ...]) -> tuple[Package, ...]:
        if names not in self._resolved:
            self._resolved[names] = self.packages.resolve(names)
        return self._resolved[names]

    def layer(self, name: str, key_parts: object, fill: Callable[[Path], None]) -> Layer:
        """The layer for ``key_parts`` from the cache, or ``fill`` a fresh directory and store it."""
        key_json = json.dumps([RECIPE_VERSION, name, key_parts], sort_keys=True)
        key = hashlib.sha256(key_json.encode()).hexdigest()
        record = self._layers / f"{name}-{key[:32]}.json"
        if record.is_file():
            layer = Layer(**json.loads(record.read_text()))
            if self.store.has(layer.digest):
                return layer
        with tempfile.TemporaryDirectory(prefix=f"arktos-image-{name}-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            rootfs.mkdir()
            fill(rootfs)
            layer = store_layer(rootfs, self.store)
        self._layers.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"digest": layer.digest, "diff_id": layer.diff_id, "size": layer.size}))
        return layer

    def package_layer(self, name: str, wanted: tuple[str, ...], *, below: tuple[str, ...] = (),
                      setup: Callable[[Path], None] | None = None) -> Layer:
        """The closure of ``wanted`` minus what the ``below`` layers' packages already hold."""
        present = {p.name for p in self.resolve(below)} if below else set()
        packages = tuple(p for p in self.resolve(wanted)
                         if p.name not in present and p.name not in EXCLUDED_PACKAGES)

        def fill(rootfs: Path) -> None:
            self.packages.unpack(packages, rootfs)
            if setup is not None:
                setup(rootfs)

        # The setup's source (and the constants it writes) in the key: editing a recipe rebuilds its layer.
        setup_key = inspect.getsource(setup) + _PASSWD + _GROUP if setup is not None else ""
        return self.layer(name, [[p.pin() for p in packages], setup_key], fill)


# --- recipes ---------------------------------------------------------------------------------------

BASE_PACKAGES = ("libc6", "busybox")
_PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
           "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
_GROUP = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n"


def _setup_base(rootfs: Path) -> None:
    """Directories and identity files (runc mounts /proc, /dev, /sys over the empty ones), and a
    link for every busybox applet but ``wget``, whose busybox 1.35 build crashes here."""
    for d in ("etc", "tmp", "var/tmp", "proc", "sys", "dev", "root", "run", "usr/local/bin", "usr/sbin"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    for d in ("tmp", "var/tmp"):
        (rootfs / d).chmod(0o1777)
    (rootfs / "etc/passwd").write_text(_PASSWD)
    (rootfs / "etc/group").write_text(_GROUP)
    (rootfs / "etc/nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files dns\n")
    busybox = rootfs / "bin" / "busybox"
    listed = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
    for applet in listed.stdout.split():
        link = rootfs / "bin" / applet
        if applet != "wget" and not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")


def _setup_nginx(rootfs: Path) -> None:
    """What nginx's maintainer scripts and the upstream image's Dockerfile do: enable the default site,
    put the welcome page in its root, make the state dirs, send the logs to stdout/stderr."""
    (rootfs / "etc/nginx/sites-enabled").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/nginx/modules-enabled").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/nginx/sites-enabled/default").symlink_to("/etc/nginx/sites-available/default")
    (rootfs / "var/www/html").mkdir(parents=True, exist_ok=True)
    shutil.copy2(rootfs / "usr/share/nginx/html/index.html", rootfs / "var/www/html/index.html")
    for d in ("var/lib/nginx", "var/log/nginx", "run"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    (rootfs / "var/log/nginx/access.log").symlink_to("/dev/stdout")
    (rootfs / "var/log/nginx/error.log").symlink_to("/dev/stderr")


def _setup_python(rootfs: Path) -> None:
    """``python`` as in the upstream image, and the CA bundle ``update-ca-certificates`` would make."""
    (rootfs / "usr/local/bin").mkdir(parents=True, exist_ok=True)
    (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
    certs = sorted((rootfs / "usr/share/ca-certificates").rglob("*.crt"))
    if certs:
        (rootfs / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
        bundle = b"".join(c.read_bytes() for c in certs)
        (rootfs / "etc/ssl/certs/ca-certificates.crt").write_bytes(bundle)


def _tree_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _tree_key(root: Path) -> str:
    digest = hashlib.sha256()
    for path in _tree_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _build_pause(builder: ImageBuilder) -> Layer:
    gcc = shutil.which("gcc")

    def fill(rootfs: Path) -> None:
        if gcc:
            source = rootfs.parent / "pause.c"
            source.write_text(_PAUSE_C)
            done = subprocess.run([gcc, "-Os", "-static", "-s", "-o", str(rootfs / "pause"), str(source)],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise ImageBuildError(f"gcc pause.c failed: {done.stderr.strip()[-1000:]}")
        else:
            unpacked = rootfs.parent / "busybox"
            builder.packages.unpack(builder.resolve(("busybox-static",)), unpacked)
            (rootfs / "bin").mkdir()
            shutil.copy2(unpacked / "bin/busybox", rootfs / "bin/busybox")
            (rootfs / "bin/sleep").symlink_to("busybox")

    return builder.layer("pause", [_PAUSE_C, bool(gcc)], fill)


def build_all(cache_dir: Path | None = None, only: tuple[str, ...] = ()) -> list[BuiltImage]:
    """Every image (or those named in ``only``), from the cache where their inputs did not change."""
    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _cache_lock(cache_dir):
        try:
            return _build(ImageBuilder(cache_dir), only)
        except PackageError as err:
            raise ImageBuildError(str(err)) from err


def _build(builder: ImageBuilder, only: tuple[str, ...]) -> list[BuiltImage]:
    wanted = set(only or ("busybox", "pause", "nginx", "python", "clusterdns"))
    images: list[BuiltImage] = []
    store = builder.store

    def add(name: str, layers: tuple[Layer, ...], run: RunConfig, tags: dict[str, tuple[str, ...]]) -> None:
        manifest = store_manifest(layers, run, store, created_by=f"arktos-py {name}")
        images.append(BuiltImage(name, manifest, tags))

    if "pause" in wanted:
        pause = _build_pause(builder)
        cmd = ("/pause",) if shutil.which("gcc") else ("/bin/sleep", "infinity")
        add("pause", (pause,), RunConfig(entrypoint=cmd),
            {"pause": ("3.9",), "google_containers/pause": ("latest", "3.9")})
    if not wanted & {"busybox", "nginx", "python", "clusterdns"}:
        return images
    base = builder.package_layer("base", BASE_PACKAGES, setup=_setup_base)
    if "busybox" in wanted:
        wget = builder.package_layer("wget", ("wget",), below=BASE_PACKAGES)
        add("busybox", (base, wget), RunConfig(cmd=("sh",)), {"library/busybox": ("latest", "1.36")})
    if "nginx" in wanted:
        nginx = builder.package_layer("nginx", ("nginx-light",), below=BASE_PACKAGES, setup=_setup_nginx)
        add("nginx", (base, nginx), RunConfig(cmd=("nginx", "-g", "daemon off;"), exposed_ports=("80/tcp",),
                                              stop_signal="SIGQUIT"),
            {"library/nginx": ("latest", "1.22")})
    if wanted & {"python", "clusterdns"}:
        python = builder.package_layer("python", ("python3", "python3-kubernetes", "python3-dnslib"),
                                       below=BASE_PACKAGES, setup=_setup_python)
        if "python" in wanted:
            add("python", (base, python), RunConfig(cmd=("python3",)),
                {"library/python": ("latest", "3", "3.11")})
        if "clusterdns" in wanted:
            add("clusterdns", (base, python, _clusterdns_layer(builder)),
                RunConfig(entrypoint=("python3", "-m", "clusterdns"), working_dir="/opt/arktos"),
                {"arktos/clusterdns": ("0.1",)})
    return images


def _clusterdns_layer(builder: ImageBuilder) -> Layer:
    """The checkout's ``clusterdns/`` package at ``/opt/arktos/clusterdns`` (bytecode caches left out)."""
    source = REPO_ROOT / "clusterdns"

    def fill(rootfs: Path) -> None:
        target = rootfs / "opt/arktos/clusterdns"
        for path in _tree_files(source):
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)

    return builder.layer("clusterdns", _tree_key(source), fill)


@contextlib.contextmanager
def _cache_lock(cache_dir: Path) -> Iterator[None]:
    """One builder at a time per cache (several test sessions may start together)."""
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def image_size(image: BuiltImage) -> int:
    """Compressed bytes of the image's layers (what a pull downloads)."""
    return sum(layer.size for layer in image.manifest.layers)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import asyncio

    from cri.image_push import push_images

    parser = argparse.ArgumentParser(description="Build the node's images from Debian packages; push them.")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="[${XDG_CACHE_HOME:-~/.cache}/arktos/images]")
    parser.add_argument("--push", metavar="HOST:PORT", help="registry to push to (plain HTTP)")
    parser.add_argument("images", nargs="*", help="busybox pause nginx python clusterdns [all]")
    args = parser.parse_args(argv)
    started = time.monotonic()
    images = build_all(args.cache_dir, tuple(args.images))
    built = time.monotonic()
    for image in images:
        print(f"{image.name}: {image.manifest.digest} {image_size(image) / 1e6:.1f} MB "
              f"-> {', '.join(image.references())}")
    print(f"built in {built - started:.1f}s")
    if args.push:
        asyncio.run(push_images(args.push, images, BlobStore(args.cache_dir or default_cache_dir())))
        print(f"pushed to {args.push} in {time.monotonic() - built:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
