"""NodePorts: a pod asking for host ports fits only where those ports are free.

upstream's NodePorts plugin: two host-port claims conflict when protocol and port are equal and
their host IPs are equal or either is the wildcard ``0.0.0.0`` (`apis.pod_resources.port_conflict`,
the kubelet's admission asks the same). The node keeps, per (protocol,
port), the set of host IPs in use (`NodeInfo.used_ports`), counting assumed pods too, so two pods
scheduled back to back cannot both take the same port.
"""

from __future__ import annotations

from apis.pod_resources import port_conflict
from scheduler.cache import SchedulerCache
from scheduler.framework import NodeFilter, Reasons
from scheduler.node_info import NodeInfo
from scheduler.pod_info import PodInfo

REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"


class NodePorts:
    name = "NodePorts"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter | None:
        wanted = pod.host_ports
        if not wanted:
            return None
        rejection: Reasons = (REASON_PORTS,)

        def check(node: NodeInfo) -> Reasons | None:
            used = node.used_ports
            if not used:
                return None
            for ip, protocol, port in wanted:
                if port_conflict(used, ip, protocol, port):
                    return rejection
            return None

        return check
