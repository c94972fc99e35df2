"""The vocabulary every prober answers in: an `Outcome`, a `ProbeError`, and Go-like error texts.

Upstream's probe handlers answer ``probe.Success`` / ``Failure`` / ``Warning`` with an output
string, or an error when the probe could not run at all; the prober worker treats a Warning as a
success (it is how a redirect to another host ends) and throws an errored run away. Failure texts
reach users through ``Unhealthy`` events, so network errors are spelled as Go's ``net`` package
spells them (``dial tcp 10.0.0.5:80: connect: connection refused``).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Literal

ProbeKind = Literal["liveness", "readiness", "startup"]
OutcomeResult = Literal["success", "failure", "warning"]

_GO_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network is unreachable",
    errno.ECONNRESET: "connection reset by peer",
    errno.ETIMEDOUT: "connection timed out",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    result: OutcomeResult
    output: str

    @property
    def ok(self) -> bool:
        return self.result != "failure"


class ProbeError(Exception):
    """The probe could not be run (bad port name, runtime refused the exec): upstream's
    "probe errored", whose result is discarded."""


def dial_error(address: str, error: OSError) -> str:
    """Go's ``dial tcp ADDR: connect: <reason>`` for a failed connect."""
    reason = _GO_ERRNO_TEXT.get(error.errno or 0) or (error.strerror or str(error)).lower()
    return f"dial tcp {address}: connect: {reason}"
