"""Debian packages into an image rootfs: resolve the dependency closure, download, unpack.

Why not ``mmdebstrap``/``debootstrap``: they install a whole Debian (the Essential set: ~200 MB
and ~1 min even for ``--variant=essential``) and run maintainer scripts in a chroot; an image needs
only the named packages and what they depend on. So apt resolves the closure against an *empty*
dpkg status (``apt-get -s -o Dir::State::status=EMPTY install --no-install-recommends P...``: the
host's installed packages do not hide anything, Essential packages come only when depended on),
``apt-get download`` fetches exactly those versions (no root needed, nothing installed on the host)
and ``dpkg -x`` unpacks them. Maintainer scripts do not run; the image recipes do by hand the little
that matters for them (a symlink, a user). Documentation and man pages are dropped, as slim images do.

Resolutions are cached by the apt package lists they came from, downloads by file name
(``name_version_arch.deb`` is unique in a Debian archive), both under the image cache directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

APT_LISTS = Path("/var/lib/apt/lists")
# Unpacked but useless in an image: docs, manuals, lintian overrides.
PRUNED_PATHS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian",
                "usr/share/bug", "usr/share/doc-base")
_INST = re.compile(r"^Inst (\S+) \((\S+) .*\[(\S+)\]\)")


class PackageError(RuntimeError):
    """apt could not resolve or fetch a package, or dpkg could not unpack it; the message says which."""


@dataclass(frozen=True, order=True)
class Package:
    name: str
    version: str
    arch: str

    @property
    def deb_name(self) -> str:
        """``apt-get download``'s file name (an epoch's ``:`` is written ``%3a``)."""
        return f"{self.name}_{quote(self.version, safe='+~.-')}_{self.arch}.deb".replace("%3A", "%3a")

    def pin(self) -> str:
        return f"{self.name}={self.version}"


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackageError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def _ensure_apt_lists() -> None:
    """``apt-get update`` when the package lists are missing (a fresh machine or a cleaned image):
    apt resolves and downloads nothing without them. As root only, like every install here."""
    if any(APT_LISTS.glob("*_Packages*")) or os.geteuid() != 0:
        return
    _run(["apt-get", "update", "-qq"])


def _apt_lists_fingerprint() -> str:
    """Changes whenever ``apt-get update`` brought new package lists."""
    entries = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                     for p in APT_LISTS.glob("*_Packages*") if p.is_file())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


class DebianPackages:
    """Resolves, downloads and unpacks Debian packages, caching under ``cache_dir``."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.debs = cache_dir / "debs"
        self._resolutions = cache_dir / "resolutions"

    def resolve(self, names: tuple[str, ...]) -> tuple[Package, ...]:
        """The packages ``names`` need, themselves included (no Recommends), sorted by name."""
        _ensure_apt_lists()
        key = hashlib.sha256(json.dumps([sorted(names), _apt_lists_fingerprint()]).encode()).hexdigest()
        cached = self._resolutions / f"{key}.json"
        if cached.is_file():
            return tuple(Package(*row) for row in json.loads(cached.read_text()))
        with tempfile.TemporaryDirectory() as tmp:
            empty_status = Path(tmp) / "status"
            empty_status.write_text("")
            out = _run(["apt-get", "-s", "-o", f"Dir::State::status={empty_status}",
                        "install", "--no-install-recommends", *names])
        packages = sorted(Package(m.group(1).split(":")[0], m.group(2), m.group(3))
                          for m in map(_INST.match, out.splitlines()) if m)
        if not packages:
            raise PackageError(f"apt resolved nothing for {names}: {out[-500:]}")
        self._resolutions.mkdir(parents=True, exist_ok=True)
        _write_atomic(cached, json.dumps([[p.name, p.version, p.arch] for p in packages]).encode())
        return tuple(packages)

    def download(self, packages: tuple[Package, ...]) -> list[Path]:
        """The ``.deb`` of each package, downloading the missing ones in one ``apt-get download``."""
        missing = [p for p in packages if not (self.debs / p.deb_name).is_file()]
        if missing:
            self.debs.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.debs) as tmp:
                _run(["apt-get", "download", *(p.pin() for p in missing)], cwd=Path(tmp))
                for deb in Path(tmp).glob("*.deb"):
                    os.replace(deb, self.debs / deb.name)
        paths = [self.debs / p.deb_name for p in packages]
        absent = [p.name for p in paths if not p.is_file()]
        if absent:
            raise PackageError(f"apt-get download did not produce {absent}")
        return paths

    def unpack(self, packages: tuple[Package, ...], rootfs: Path) -> None:
        """``dpkg -x`` every package into ``rootfs``, then drop the documentation."""
        rootfs.mkdir(parents=True, exist_ok=True)
        for deb in self.download(packages):
            _run(["dpkg", "-x", str(deb), str(rootfs)])
        for pruned in PRUNED_PATHS:
            shutil.rmtree(rootfs / pruned, ignore_errors=True)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(partial, path)
