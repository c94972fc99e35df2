"""The generated CRI message and service modules, generated on first use when missing.

``hack/install-deps.sh`` generates them at install time (``python -m cri.codegen``); importing this module
in a checkout where that did not run (or after the ``.proto`` changed) regenerates them, so the client never
imports stale messages.
"""

from __future__ import annotations

from cri import codegen

if not codegen.stubs_are_current():
    codegen.generate()

from cri._generated import runtime_pb2 as pb
from cri._generated import runtime_pb2_grpc as pb_grpc

__all__ = ["pb", "pb_grpc"]
