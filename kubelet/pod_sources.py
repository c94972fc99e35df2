"""Where a pod's env and volumes get their data: ConfigMaps, Secrets and service-account tokens.

Upstream's kubelet reads these through its configmap/secret managers and its token manager, all
talking to the API server as the node's identity (the node authorizer lets a kubelet read only
what pods bound to it reference). `ObjectSource` is that seam: `ApiObjectSource` is the real one,
and unit tests hand in an in-memory one. A missing object answers ``None`` (callers decide whether
it was optional); any other API failure becomes `SourceError`, whose text is the server's message,
as upstream shows the API error it got.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from apis.meta import parse_time
from client.errors import ApiError, NotFound
from client.resources import CONFIGMAPS, SECRETS, ResourceRef, resource_path
from client.rest import ApiClient

SERVICE_ACCOUNTS = ResourceRef("", "v1", "serviceaccounts", "ServiceAccount")


class SourceError(Exception):
    """The API server could not answer (not a plain "not found")."""


class ObjectSource(Protocol):
    async def config_map(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def secret(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def service_account_token(self, tenant: str, namespace: str, name: str, *,
                                    audience: str, expiration_seconds: int,
                                    pod: dict[str, Any]) -> tuple[str, float]:
        """A token for the account bound to ``pod`` and its expiry (unix seconds)."""
        ...


def _tenant_arg(tenant: str) -> str | None:
    return tenant or None


class ApiObjectSource:
    """`ObjectSource` over the API (the kubelet's node identity)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def _get(self, ref: ResourceRef, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(ref, name, tenant=_tenant_arg(tenant), namespace=namespace)
        except NotFound:
            return None
        except ApiError as e:
            raise SourceError(e.message) from e

    async def config_map(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get(CONFIGMAPS, tenant, namespace, name)

    async def secret(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get(SECRETS, tenant, namespace, name)

    async def service_account_token(self, tenant: str, namespace: str, name: str, *,
                                    audience: str, expiration_seconds: int,
                                    pod: dict[str, Any]) -> tuple[str, float]:
        """``POST serviceaccounts/{name}/token`` bound to the pod, as upstream's token manager
        asks (the token dies with the pod)."""
        metadata = pod.get("metadata") or {}
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
            "audiences": [audience] if audience else [],
            "expirationSeconds": expiration_seconds,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": metadata.get("name", ""),
                               "uid": metadata.get("uid", "")}}}
        path = resource_path(SERVICE_ACCOUNTS, tenant=_tenant_arg(tenant), namespace=namespace,
                             name=name, subresource="token")
        try:
            answer = await self.client.request("POST", path, body=body)
        except ApiError as e:
            raise SourceError(e.message) from e
        status = (answer or {}).get("status") or {}
        return str(status.get("token", "")), _expiry(status.get("expirationTimestamp"), expiration_seconds)


def _expiry(stamp: Any, fallback_seconds: int) -> float:
    expires = parse_time(stamp)
    return expires.timestamp() if expires is not None else time.time() + fallback_seconds
