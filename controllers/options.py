"""The controllers' own command-line knobs, handed to every controller through its settings.

kube-controller-manager passes one component configuration to all of its controllers (node
monitor grace period, the root CA to publish, the terminated-pod threshold, ...). Here the
process builds one frozen `ControllerOptions` from its flags and stores it in
`client.controller.RuntimeSettings.controller_options`; a controller reads it back with
`controller_options`, which falls back to upstream's defaults when nothing was given (in-process
tests, other entry points). Not a controller module: it registers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.controller import ControllerContext

# Upstream defaults (kube-controller-manager --help).
DEFAULT_NODE_MONITOR_GRACE_PERIOD_S = 40.0
DEFAULT_TERMINATED_POD_GC_THRESHOLD = 12500
# DefaultTolerationSeconds admission gives pods 300 s of tolerance for unreachable/not-ready.
DEFAULT_TOLERATION_SECONDS = 300


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    """Per-process settings the controllers read (flags of ``python -m controllers``)."""

    root_ca_file: str | None = None
    # Used when no --root-ca-file is given: the CA the kubeconfig trusts (upstream falls back to
    # the client config's CA in the same way).
    kubeconfig_ca_file: str | None = None
    kubeconfig_ca_data: bytes | None = None
    node_monitor_grace_period_s: float = DEFAULT_NODE_MONITOR_GRACE_PERIOD_S
    terminated_pod_gc_threshold: int = DEFAULT_TERMINATED_POD_GC_THRESHOLD
    default_toleration_seconds: int = DEFAULT_TOLERATION_SECONDS
    # How often discovery is asked again for new resources (the garbage collector's resync).
    discovery_refresh_s: float = 30.0
    # Node IPAM (upstream's --allocate-node-cidrs, --cluster-cidr, --node-cidr-mask-size).
    allocate_node_cidrs: bool = False
    cluster_cidr: str = ""
    node_cidr_mask_size: int | None = None  # None: 24 for IPv4, 64 for IPv6

    def root_ca(self) -> str | None:
        """The PEM bundle to publish as ``kube-root-ca.crt``, or None when there is none."""
        if self.root_ca_file:
            with open(self.root_ca_file, encoding="utf-8") as f:
                return f.read()
        if self.kubeconfig_ca_data:
            return self.kubeconfig_ca_data.decode()
        if self.kubeconfig_ca_file:
            with open(self.kubeconfig_ca_file, encoding="utf-8") as f:
                return f.read()
        return None


def controller_options(context: ControllerContext) -> ControllerOptions:
    """The options the process was started with, or the defaults."""
    options = context.settings.controller_options
    return options if isinstance(options, ControllerOptions) else ControllerOptions()
