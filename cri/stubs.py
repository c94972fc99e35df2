"""The generated CRI message and service modules, made at install time and only read here.

``make`` (``hack/install-deps.sh``) generates them with ``python -m cri.codegen``. Importing this
module never generates: two processes starting together (a kubelet and the VM runtime, or test
workers) would race to write the same files, and an install may be read-only. When the stubs are
missing or older than the ``.proto``, the import fails with `StubsNotGenerated` saying what to run,
so the client never imports stale messages. ``make check`` verifies that importing writes nothing
(``hack/verify-import-writes-nothing.py``).
"""

from __future__ import annotations

from cri import codegen

if not codegen.stubs_are_current():
    raise codegen.StubsNotGenerated(
        f"the CRI gRPC stubs in {codegen.GENERATED_DIR} are missing or older than {codegen.PROTO_FILE}: "
        "run `make` (or `python -m cri.codegen`) to generate them"
    )

from cri._generated import runtime_pb2 as pb
from cri._generated import runtime_pb2_grpc as pb_grpc

__all__ = ["pb", "pb_grpc"]
