"""Where on which kubelet a pod's logs, exec, attach and port-forward are served, and with what query.

Mirrors upstream's pkg/registry/core/pod/strategy.go (LogLocation, streamLocation,
PortForwardLocation) and ValidatePodLogOptions: the container is defaulted or checked against the
pod, the options are validated and re-encoded as the kubelet expects them (``stdin=1``,
``port=N``), and the node's address comes from its status. Paths carry the tenant, as Arktos's
kubelet routes do (``/containerLogs/{tenant}/{namespace}/{pod}/{container}``). Pure functions of
the pod, the node and the query: the handler fetches the objects and does the proxying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from apis.field_errors import FieldError
from server.errors import ApiError, BadRequest, Invalid

DEFAULT_KUBELET_PORT = 10250
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
# The order in which a node's addresses are tried (upstream's --kubelet-preferred-address-types,
# with InternalIP first: Arktos nodes report their reachable address there).
PREFERRED_ADDRESS_TYPES = ("InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "Hostname")
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False", ""})


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


@dataclass(frozen=True, slots=True)
class KubeletLocation:
    """``target`` (path and query) on the kubelet at ``host:port``."""

    host: str
    port: int
    target: str
    skip_tls_verify: bool = False


def parse_bool(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it; 400 otherwise."""
    value = query.get(name, "")
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _parse_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _container_names(spec: Mapping[str, Any], field: str) -> list[str]:
    return [c.get("name", "") for c in spec.get(field) or [] if isinstance(c, dict)]


def _has_container(spec: Mapping[str, Any], name: str) -> bool:
    """Containers, init and ephemeral containers, and an Arktos VM (its name stands for the container)."""
    names = [*_container_names(spec, "containers"), *_container_names(spec, "initContainers"),
             *_container_names(spec, "ephemeralContainers")]
    vm = spec.get("virtualMachine")
    if isinstance(vm, dict) and vm.get("name"):
        names.append(vm["name"])
    return name in names


def resolve_container(pod: Mapping[str, Any], requested: str, *, for_logs: bool = False) -> str:
    """The container a request addresses: ``requested`` if the pod has it, else the only one.

    A pod of several containers may name its default in the kubectl.kubernetes.io/default-container
    annotation (kubectl honours it client-side; honouring it here serves other clients the same way).
    """
    metadata = pod.get("metadata") or {}
    name = metadata.get("name", "")
    spec = pod.get("spec") or {}
    if requested:
        if not _has_container(spec, requested):
            raise BadRequest(f"container {requested} is not valid for pod {name}")
        return requested
    containers = _container_names(spec, "containers")
    if len(containers) == 1:
        return containers[0]
    vm = spec.get("virtualMachine")
    if not containers and isinstance(vm, dict) and vm.get("name"):
        return str(vm["name"])
    if not containers:
        raise BadRequest(f"a container name must be specified for pod {name}")
    annotated = (metadata.get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION, "")
    if annotated in containers:
        return str(annotated)
    message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
    init_containers = _container_names(spec, "initContainers")
    if for_logs and init_containers:
        message += f" or one of the init containers: [{' '.join(init_containers)}]"
    raise BadRequest(message)


def node_name_of(pod: Mapping[str, Any]) -> str:
    """The pod's node; 400 when it has none (upstream streamLocation's message)."""
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    if not node:
        raise BadRequest(f"pod {(pod.get('metadata') or {}).get('name', '')} does not have a host assigned")
    return node


def kubelet_address(node: Mapping[str, Any]) -> tuple[str, int]:
    """(host, port) of the node's kubelet, from status.addresses and daemonEndpoints."""
    status = node.get("status") or {}
    addresses = [a for a in status.get("addresses") or [] if isinstance(a, dict) and a.get("address")]
    for kind in PREFERRED_ADDRESS_TYPES:
        for address in addresses:
            if address.get("type") == kind:
                endpoint = (status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
                port = endpoint.get("Port") or DEFAULT_KUBELET_PORT
                return str(address["address"]), int(port)
    known = ", ".join(f"{a.get('type')}:{a.get('address')}" for a in addresses)
    raise ServiceUnavailable(f"no preferred addresses found; known addresses: [{known}]")


def _path(*segments: str) -> str:
    return "/" + "/".join(quote(s, safe="") for s in segments)


def _log_field_errors(tail: int | None, limit: int | None, since_seconds: int | None,
                      since_time: str | None) -> list[FieldError]:
    errors: list[FieldError] = []
    if tail is not None and tail < 0:
        errors.append(FieldError("FieldValueInvalid", "tailLines",
                                 f"Invalid value: {tail}: must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        errors.append(FieldError("FieldValueInvalid", "limitBytes",
                                 f"Invalid value: {limit}: must be greater than 0"))
    if since_seconds is not None and since_time is not None:
        errors.append(FieldError("FieldValueForbidden", "",
                                 "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif since_seconds is not None and since_seconds < 1:
        errors.append(FieldError("FieldValueInvalid", "sinceSeconds",
                                 f"Invalid value: {since_seconds}: must be greater than 0"))
    return errors


def log_target(tenant: str, pod: Mapping[str, Any], query: Mapping[str, str]) -> str:
    """The kubelet's /containerLogs target for a validated PodLogOptions query."""
    name = (pod.get("metadata") or {}).get("name", "")
    tail, limit = _parse_int(query, "tailLines"), _parse_int(query, "limitBytes")
    since_seconds, since_time = _parse_int(query, "sinceSeconds"), query.get("sinceTime")
    errors = _log_field_errors(tail, limit, since_seconds, since_time)
    if errors:
        raise Invalid.fields("PodLogOptions", name, errors)
    container = resolve_container(pod, query.get("container", ""), for_logs=True)
    params: list[tuple[str, str]] = [(flag, "true") for flag in ("follow", "previous", "timestamps")
                                     if parse_bool(query, flag)]
    for key, value in (("sinceSeconds", since_seconds), ("sinceTime", since_time),
                       ("tailLines", tail), ("limitBytes", limit)):
        if value is not None:
            params.append((key, str(value)))
    if query.get("stream"):
        params.append(("stream", query["stream"]))
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    return _with_query(_path("containerLogs", tenant, namespace, name, container), params)


def stream_target(kind: str, tenant: str, pod: Mapping[str, Any], query: Mapping[str, str],
                  commands: Sequence[str]) -> str:
    """The kubelet's /exec or /attach target (``kind`` "exec" or "attach")."""
    metadata = pod.get("metadata") or {}
    container = resolve_container(pod, query.get("container", ""))
    # Upstream's streamParams: the kubelet reads "1" for each requested stream.
    params = [(flag, "1") for flag in ("stdin", "stdout", "stderr", "tty") if parse_bool(query, flag)]
    if kind == "exec":
        params += [("command", command) for command in commands]
    return _with_query(_path(kind, tenant, metadata.get("namespace", ""), metadata.get("name", ""),
                             *_uid_segment(metadata), container), params)


def portforward_target(tenant: str, pod: Mapping[str, Any], ports: Sequence[str]) -> str:
    """The kubelet's /portForward target; ``ports`` are the caller's ``ports`` values (a,b or repeated)."""
    metadata = pod.get("metadata") or {}
    params: list[tuple[str, str]] = []
    for value in ports:
        for token in value.split(","):
            token = token.strip()
            if not token:
                continue
            if not token.isdigit() or not 0 < int(token) < 65536:
                raise BadRequest(f'strconv.ParseInt: parsing "{token}": invalid syntax'
                                 if not token.isdigit() else f"invalid port {token}")
            params.append(("port", token))
    return _with_query(_path("portForward", tenant, metadata.get("namespace", ""),
                             metadata.get("name", ""), *_uid_segment(metadata)), params)


def _uid_segment(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    """The kubelet's uid routes (``/exec/{t}/{ns}/{pod}/{uid}/{c}``, ``/portForward/.../{uid}``):
    a kubelet serving several tenant partitions may hold two pods of one name, and the uid says
    which (upstream's kubelet has the same routes; its API server leaves the uid out)."""
    uid = metadata.get("uid")
    return (str(uid),) if uid else ()


def _with_query(path: str, params: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(params)}" if params else path
