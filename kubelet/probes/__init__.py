"""Container probes (exec, httpGet, tcpSocket) run by per-container workers; see `manager`."""

from kubelet.probes.manager import ProbeManager, ProbeStatusView
from kubelet.probes.outcome import Outcome, ProbeError, ProbeKind

__all__ = ["Outcome", "ProbeError", "ProbeKind", "ProbeManager", "ProbeStatusView"]
