"""What a request to the kubelet's HTTPS port asks for, in the API server's authorization vocabulary.

Why this exists: upstream's kubelet (pkg/kubelet/server/auth.go, ``GetRequestAttributes``) does not
invent its own permissions; it asks the API server whether the caller may act on the node object:
verb from the HTTP method (POST→create, GET→get, PUT→update, PATCH→patch, DELETE→delete, anything
else → no verb, which nothing grants), resource ``nodes``, name = this node, and the subresource by
path — ``/stats``→stats, ``/metrics``→metrics, ``/logs``→log, ``/spec``→spec,
``/checkpoint``→checkpoint, everything else (exec, attach, portForward, run, containerLogs, ...)
→ proxy. The 403 text is upstream's too: ``Forbidden (user=U, verb=V, resource=nodes,
subresource=S)``.
"""

from __future__ import annotations

from dataclasses import dataclass

_VERBS = {"POST": "create", "GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# Paths whose subtree maps to a narrower subresource than "proxy" (upstream's isSubpath order).
_SUBRESOURCE_PATHS = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"),
                      ("/spec", "spec"), ("/checkpoint", "checkpoint"))
DEFAULT_SUBRESOURCE = "proxy"


@dataclass(frozen=True, slots=True)
class NodeRequest:
    """The authorizer attributes of one request: always ``nodes/<subresource>`` of one node."""

    verb: str
    subresource: str
    node: str

    def forbidden_message(self, user: str) -> str:
        return f"Forbidden (user={user}, verb={self.verb}, resource=nodes, subresource={self.subresource})"

    def error_message(self, user: str) -> str:
        """Upstream's answer when the review itself failed (500)."""
        return (f"Authorization error (user={user}, verb={self.verb}, resource=nodes, "
                f"subresource={self.subresource})")


def is_subpath(path: str, prefix: str) -> bool:
    """upstream ``isSubpath``: ``path`` is ``prefix`` or lies below it."""
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def node_request(method: str, path: str, *, node: str) -> NodeRequest:
    """The attributes upstream's kubelet derives from an HTTP method and URL path."""
    subresource = next((sub for prefix, sub in _SUBRESOURCE_PATHS if is_subpath(path, prefix)),
                       DEFAULT_SUBRESOURCE)
    return NodeRequest(_VERBS.get(method.upper(), ""), subresource, node)
