"""The service-account controller: every namespace of every tenant has ServiceAccount ``default``.

Upstream's ``pkg/controller/serviceaccount`` (ServiceAccountsController) ensures the accounts named
by ``--service-account-names`` — just ``default`` — exist in each active namespace; pods that name
no account run as it, and deleting it only makes it come back. Keys are namespaces; an event on a
``default`` account maps to its namespace, so a deletion is repaired without polling. Terminating
namespaces are left alone: the namespace controller is emptying them.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, Watch
from client.errors import AlreadyExists, Forbidden, NotFound
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, NAMESPACES, ResourceRef
from controllers.registry import REGISTRY

log = logging.getLogger(__name__)

SERVICE_ACCOUNTS = ResourceRef("", "v1", "serviceaccounts", "ServiceAccount")
DEFAULT_SERVICE_ACCOUNT = "default"
NAMESPACES_ALL_TENANTS = InformerView(NAMESPACES, tenant=ALL_TENANTS)
# Only the accounts this controller manages are cached, not every account of the cluster.
DEFAULT_ACCOUNTS_VIEW = InformerView(SERVICE_ACCOUNTS, tenant=ALL_TENANTS,
                                     field_selector=f"metadata.name={DEFAULT_SERVICE_ACCOUNT}")


def namespace_of(obj: dict[str, Any]) -> list[Hashable]:
    """Maps a namespaced object to its namespace's key."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    return [ObjectKey(str(metadata.get("tenant") or ""), "", str(namespace))] if namespace else []


def is_active(namespace: dict[str, Any] | None) -> bool:
    if namespace is None:
        return False
    return not (namespace.get("metadata") or {}).get("deletionTimestamp") and \
        (namespace.get("status") or {}).get("phase") != "Terminating"


@REGISTRY.register
class ServiceAccountController(Controller):
    name = "serviceaccount"
    workers = 2
    watches = (Watch(NAMESPACES_ALL_TENANTS), Watch(DEFAULT_ACCOUNTS_VIEW, keys=namespace_of))

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        if not is_active(self.informer(NAMESPACES_ALL_TENANTS).get(key)):
            return
        account_key = ObjectKey(key.tenant, key.name, DEFAULT_SERVICE_ACCOUNT)
        if self.informer(DEFAULT_ACCOUNTS_VIEW).get(account_key) is not None:
            return
        body = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": key.name}}
        try:
            await self.client.create(SERVICE_ACCOUNTS, body, tenant=key.tenant or None, namespace=key.name)
        except AlreadyExists:
            return  # the cache lags the server
        except (Forbidden, NotFound) as e:
            # The namespace started terminating (or went) after the cache showed it active.
            log.debug("namespace %s: no default service account: %s", key, e)
            return
        log.info("created service account %s/default", key)
