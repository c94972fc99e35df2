"""make check: importing our code writes no generated code; generation belongs to install time.

cri/stubs.py used to regenerate the CRI gRPC stubs on import when they looked stale, and two
processes starting together (a kubelet and the VM runtime, or test workers) raced over the same
files. Now only ``make`` generates them (hack/install-deps.sh runs ``python -m cri.codegen``).
This check proves it two ways, each in a fresh interpreter that writes no bytecode:

1. with the stubs in place, importing every module of cri/ and vmruntime/ and the kubelet's CRI
   modules leaves cri/ exactly as it was (same files, sizes and modification times);
2. in a copy of cri/ without its stubs (made read-only too, for when this does not run as root),
   ``import cri.stubs`` fails with the error that says to run ``make``, and the copy is unchanged.

Exit status 0 when both hold; otherwise 1, with what was written or what failed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRI = ROOT / "cri"
Snapshot = dict[str, tuple[int, int]]

IMPORT_EVERYTHING = """
import importlib, pkgutil
import cri, vmruntime
for package in (cri, vmruntime):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
import kubelet.cri_runtime, kubelet.vm.cri_runtime
"""

IMPORT_STUBS_FROM = """
import sys
sys.path.insert(0, {root!r})
import cri
assert cri.__file__.startswith({root!r}), cri.__file__
import cri.stubs
"""


def snapshot(directory: Path) -> Snapshot:
    """Every file under `directory` (bytecode caches aside) with its size and mtime."""
    files: Snapshot = {}
    for path in sorted(directory.rglob("*")):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        info = path.stat()
        files[str(path.relative_to(directory))] = (info.st_size, info.st_mtime_ns)
    return files


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def run_python(code: str, *, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-B", "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def check_import_with_stubs() -> list[str]:
    before = snapshot(CRI)
    result = run_python(IMPORT_EVERYTHING, cwd=ROOT)
    if result.returncode != 0:
        return [f"importing cri/, vmruntime/ and the kubelet's CRI modules failed:\n{result.stderr}"]
    written = changes(before, snapshot(CRI))
    return [f"importing wrote into cri/: {', '.join(written)}"] if written else []


def _make_read_only(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def check_import_without_stubs() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="verify-import-") as tmp:
        copy = Path(tmp) / "cri"
        shutil.copytree(CRI, copy, ignore=shutil.ignore_patterns("_generated", "__pycache__", ".gen-*"))
        _make_read_only(copy)
        try:
            before = snapshot(copy)
            result = run_python(IMPORT_STUBS_FROM.format(root=tmp), cwd=Path(tmp))
            written = changes(before, snapshot(copy))
        finally:
            _make_writable(copy)
    problems = [f"importing cri.stubs without stubs wrote: {', '.join(written)}"] if written else []
    if result.returncode == 0:
        problems.append("importing cri.stubs without stubs succeeded: it must refuse")
    elif "StubsNotGenerated" not in result.stderr or "run `make`" not in result.stderr:
        problems.append(f"importing cri.stubs without stubs failed, not saying to run make:\n{result.stderr}")
    return problems


def main() -> int:
    problems = check_import_with_stubs() + check_import_without_stubs()
    for problem in problems:
        print(f"verify-import-writes-nothing: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
