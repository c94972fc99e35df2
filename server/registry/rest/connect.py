"""``pods/{name}/log``, ``exec``, ``attach`` and ``portforward``: where the pod's kubelet serves them.

Upstream's connect subresources (pkg/registry/core/pod/rest/subresources.go, LogREST): each finds
the pod and its node and answers the kubelet location and target (`server.registry.pod_location`
checks the options and encodes them as the kubelet expects); the HTTP layer forwards the request
there and relays the bytes (``server.handlers.pod_proxy``). The node is this server's own, or, on
a tenant partition started with ``--resource-providers``, the resource partitions' (the context's
`NodeSource`), so a pod on any partition's node is reachable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.registry.keys import Scope
from server.registry.pod_location import (
    KubeletLocation,
    kubelet_address,
    log_target,
    node_name_of,
    parse_bool,
    portforward_target,
    stream_target,
)
from server.registry.record import ResourceRecord
from server.registry.rest.interface import NodeSource, RestContext, RestRequest


class _PodConnectREST:
    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._store = context.store
        nodes = context.catalogue.lookup("", "v1", "nodes")
        assert nodes is not None, "pods are served only with nodes"
        self._nodes = nodes
        self._node_source: NodeSource | None = context.nodes

    async def connect(self, request: RestRequest) -> KubeletLocation | None:
        pod = self._store.get(request.resource, request.scope, request.name).obj
        target = self._target(request, pod)
        if target is None:
            return None
        skip_verify = self._skip_verify(request)
        host, port = kubelet_address(await self._node(node_name_of(pod)))
        return KubeletLocation(host=host, port=port, target=target, skip_tls_verify=skip_verify)

    async def _node(self, name: str) -> Mapping[str, Any]:
        if self._node_source is not None:
            return await self._node_source.node(name)
        return self._store.get(self._nodes, Scope(tenant=""), name).obj

    def _target(self, request: RestRequest, pod: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def _skip_verify(self, request: RestRequest) -> bool:
        return False


class PodLogREST(_PodConnectREST):
    def _target(self, request: RestRequest, pod: dict[str, Any]) -> str | None:
        target = log_target(request.scope.tenant, pod, request.query)
        # Upstream's LogLocation: an unscheduled pod has no log yet, answered as empty.
        return target if (pod.get("spec") or {}).get("nodeName") else None

    def _skip_verify(self, request: RestRequest) -> bool:
        return parse_bool(request.query, "insecureSkipTLSVerifyBackend")


class PodExecREST(_PodConnectREST):
    def _target(self, request: RestRequest, pod: dict[str, Any]) -> str | None:
        return stream_target("exec", request.scope.tenant, pod, request.query,
                             request.query.getall("command", []))


class PodAttachREST(_PodConnectREST):
    def _target(self, request: RestRequest, pod: dict[str, Any]) -> str | None:
        return stream_target("attach", request.scope.tenant, pod, request.query, ())


class PodPortForwardREST(_PodConnectREST):
    def _target(self, request: RestRequest, pod: dict[str, Any]) -> str | None:
        return portforward_target(request.scope.tenant, pod, request.query.getall("ports", []))
