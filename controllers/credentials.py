"""Each controller's own identity: ``--use-service-account-credentials``.

Why this exists: a controller manager that acts as one all-powerful user lets any controller's bug
(or a tenant who steers one) do anything. Upstream's kube-controller-manager with
``--use-service-account-credentials`` runs each controller as the service account
``kube-system/<name>`` bound to ``system:controller:<name>`` (the bootstrap policy), keeping its own
credential (``system:kube-controller-manager``) for leader election, the shared informers and for
creating those accounts and their tokens. Here the accounts live in tenant ``system``; its
ClusterRoleBindings hold in every tenant for system-tenant subjects, so each controller acts across
all tenants, within its role. The account names are upstream's (``SERVICE_ACCOUNTS``; Arktos's
tenant controller is ``tenant-controller``); a controller without an entry cannot run with
service-account credentials.
"""

from __future__ import annotations

import dataclasses

from apis.identity import CONTROLLER_SERVICE_ACCOUNT_NAMESPACE, SYSTEM_TENANT
from client.controller import Controller
from client.rest import ApiClient
from client.service_account_token import ServiceAccountTokenSource

# Controller (``--controllers`` name) -> its service account in kube-system (upstream's names).
SERVICE_ACCOUNTS: dict[str, str] = {
    "cronjob": "cronjob-controller",
    "daemonset": "daemon-set-controller",
    "deployment": "deployment-controller",
    "endpoint": "endpoint-controller",
    "endpointslice": "endpointslice-controller",
    "garbagecollector": "generic-garbage-collector",
    "job": "job-controller",
    "namespace": "namespace-controller",
    "network": "network-controller",  # Arktos's (our name)
    "nodeipam": "node-controller",  # upstream's node IPAM controller acts as node-controller too
    "nodelifecycle": "node-controller",
    "podgc": "pod-garbage-collector",
    "replicaset": "replicaset-controller",
    "replicationcontroller": "replication-controller",
    "resourcequota": "resourcequota-controller",
    "root-ca-cert-publisher": "root-ca-cert-publisher",
    "serviceaccount": "service-account-controller",
    "statefulset": "statefulset-controller",
    "tenant": "tenant-controller",
    "ttl": "ttl-controller",
    "ttl-after-finished": "ttl-after-finished-controller",
}


def service_account_of(controller: type[Controller]) -> str:
    """The account ``controller`` acts as; KeyError for a controller without one."""
    try:
        return SERVICE_ACCOUNTS[controller.name]
    except KeyError:
        raise KeyError(f"controller {controller.name!r} has no service account "
                       f"(controllers/credentials.py)") from None


class ServiceAccountClients:
    """Builds (once per account) the client a controller acts through, and closes them all.

    A controller's client presents no client certificate — only its account's bearer token, from
    a `ServiceAccountTokenSource` that the manager's own client (``root``) feeds — so the server
    sees ``system:serviceaccount:kube-system:<name>`` (upstream's AnonymousClientConfig + token).
    """

    def __init__(self, root: ApiClient, *, tenant: str = SYSTEM_TENANT,
                 namespace: str = CONTROLLER_SERVICE_ACCOUNT_NAMESPACE) -> None:
        self._root = root
        self._tenant = tenant
        self._namespace = namespace
        self._clients: dict[str, ApiClient] = {}

    def client_for(self, controller: type[Controller]) -> ApiClient:
        account = service_account_of(controller)
        client = self._clients.get(account)
        if client is None:
            anonymous = dataclasses.replace(self._root.config, client_cert_file=None, client_key_file=None,
                                            token=None)
            tokens = ServiceAccountTokenSource(self._root, tenant=self._tenant, namespace=self._namespace,
                                               name=account)
            client = ApiClient(anonymous, retry=self._root.retry, request_timeout=self._root.request_timeout,
                               token_source=tokens)
            self._clients[account] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
