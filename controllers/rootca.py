"""The root-CA publisher: ConfigMap ``kube-root-ca.crt`` with the cluster CA in every namespace.

Upstream's ``pkg/controller/certificates/rootcacertpublisher`` lets any pod verify the API server
(projected service-account volumes mount it) by keeping ``kube-root-ca.crt`` — key ``ca.crt``, the
bundle kube-controller-manager got from ``--root-ca-file`` — in each namespace, re-created when
deleted and rewritten when edited. Here the bundle comes from ``--root-ca-file`` or else the
kubeconfig's certificate authority (`controllers.options`); without either there is nothing to
publish and the controller idles. Keys are namespaces of every tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, Requeue, Watch
from client.errors import AlreadyExists, Conflict, Forbidden, NotFound
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, CONFIGMAPS
from controllers.options import controller_options
from controllers.registry import REGISTRY
from controllers.serviceaccount import NAMESPACES_ALL_TENANTS, is_active, namespace_of

log = logging.getLogger(__name__)

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
ROOT_CA_KEY = "ca.crt"
# Upstream annotates the ConfigMap with what it is for (rootcacertpublisher, 1.2x).
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
               "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
               "guaranteed across distributions of Kubernetes clusters.")
ROOT_CA_VIEW = InformerView(CONFIGMAPS, tenant=ALL_TENANTS,
                            field_selector=f"metadata.name={ROOT_CA_CONFIGMAP}")


def root_ca_configmap(namespace: str, ca: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": namespace,
                         "annotations": {"kubernetes.io/description": DESCRIPTION}},
            "data": {ROOT_CA_KEY: ca}}


@REGISTRY.register
class RootCAPublisher(Controller):
    name = "root-ca-cert-publisher"
    workers = 2
    watches = (Watch(NAMESPACES_ALL_TENANTS), Watch(ROOT_CA_VIEW, keys=namespace_of))

    _ca: str | None = None

    async def start(self) -> None:
        self._ca = controller_options(self.context).root_ca()
        if self._ca is None:
            log.warning("no --root-ca-file and no certificate-authority in the kubeconfig: "
                        "%s is not published", ROOT_CA_CONFIGMAP)

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        if self._ca is None or not is_active(self.informer(NAMESPACES_ALL_TENANTS).get(key)):
            return
        current = self.informer(ROOT_CA_VIEW).get(ObjectKey(key.tenant, key.name, ROOT_CA_CONFIGMAP))
        tenant = key.tenant or None
        try:
            if current is None:
                await self.client.create(CONFIGMAPS, root_ca_configmap(key.name, self._ca), tenant=tenant,
                                         namespace=key.name)
                log.info("published %s in %s", ROOT_CA_CONFIGMAP, key)
            elif (current.get("data") or {}).get(ROOT_CA_KEY) != self._ca:
                # Edited by someone: put the bundle back, keeping what else they added.
                body = {**current, "data": {**(current.get("data") or {}), ROOT_CA_KEY: self._ca}}
                await self.client.update(CONFIGMAPS, body, tenant=tenant, namespace=key.name)
                log.info("restored %s in %s", ROOT_CA_CONFIGMAP, key)
        except AlreadyExists:
            return
        except Conflict as e:
            raise Requeue(0.2, "configmap changed meanwhile") from e
        except (Forbidden, NotFound):
            return  # the namespace is terminating or gone
