"""The ServiceAccount admission plugin: every pod runs as an account that exists, with its token mounted.

Upstream's plugin/pkg/admission/serviceaccount, on pod creates (both phases, as upstream's plugin
is both mutating and validating):

* a pod that names no ``serviceAccountName`` runs as ``default``;
* the account must exist in the pod's namespace — here in the pod's tenant and namespace — else
  403 ``pods "x" is forbidden: error looking up service account ns/sa: serviceaccount "sa" not
  found``. The watch cache is read, and read again once it caught up with the store; for
  ``default``, which the service-account controller is about to create in a new namespace, up to
  10 times, 100 to 200 ms apart, as upstream's live lookups;
* unless ``automountServiceAccountToken`` is false on the pod (which wins) or on the account, the
  projected volume ``kube-api-access-<5 random>`` (a bound token for 3607 s at ``token``, the
  ``kube-root-ca.crt`` ConfigMap's ``ca.crt``, and the pod's namespace) is added and mounted
  read-only at /var/run/secrets/kubernetes.io/serviceaccount in every init container and
  container that has no mount there yet; ephemeral containers get none (upstream adds mounts only
  on create, and ephemeral containers may not carry volume mounts of their own choosing here);
* the account's ``imagePullSecrets`` become the pod's when it names none;
* an account annotated ``kubernetes.io/enforce-mountable-secrets: "true"`` limits the secrets the
  pod may reference to the account's ``secrets`` (also for ephemeral containers added later
  through ``pods/ephemeralcontainers``);
* mirror pods (annotation ``kubernetes.io/config.mirror``) are left unchanged and may reference no
  account, no secret and no token projection.

Pods with ``spec.virtualMachine`` (Arktos's VM pods, no containers) get the account but no volume:
no container could mount it (upstream adds the volume only when a container mounts it).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

from server.errors import Forbidden, NotFound
from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.catalogue import Catalogue
from server.registry.keys import Scope, object_key
from server.registry.objects import generate_name
from server.registry.record import ResourceRecord
from server.watchcache import WatchCache

DEFAULT_SERVICE_ACCOUNT = "default"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
# Upstream's WarnOnlyBoundTokenExpirationSeconds: one hour plus 7 s, so tokens older than an
# hour are recognisable in the audit log while legacy clients that never re-read still work.
TOKEN_EXPIRATION_SECONDS = 3607
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"
_DEFAULT_ACCOUNT_ATTEMPTS = 10


def token_volume(name: str) -> dict[str, Any]:
    """Upstream's TokenVolumeSource, with its explicit ``defaultMode`` 0644."""
    return {"name": name, "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def should_automount(account: dict[str, Any], spec: dict[str, Any]) -> bool:
    """The pod's ``automountServiceAccountToken`` wins, then the account's; default true."""
    for choice in (spec.get("automountServiceAccountToken"), account.get("automountServiceAccountToken")):
        if choice is not None:
            return bool(choice)
    return True


def mount_token(spec: dict[str, Any], volume_name: str) -> bool:
    """Adds the token volume and its mounts to ``spec``; False when no container needed it."""
    needed = False
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        mounts = container.setdefault("volumeMounts", [])
        if any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
            continue  # an existing mount at the path keeps the token out, as upstream
        mounts.append({"name": volume_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})
        needed = True
    if needed:
        spec.setdefault("volumes", []).append(token_volume(volume_name))
    return needed


def _forbidden(request: AdmissionRequest, message: str) -> Forbidden:
    """Upstream's admission.NewForbidden: named by the pod (or its generateName before one is made)."""
    metadata = request.obj.get("metadata") or {}
    name = request.name or str(metadata.get("generateName") or "") or "Unknown"
    return Forbidden(f'pods "{name}" is forbidden: {message}',
                     details={"name": name, "kind": "pods"})


def _secret_references(spec: dict[str, Any], kinds: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(upstream's error text before the account name, secret name) of every secret the pod uses."""
    if "volumes" in kinds:
        for volume in spec.get("volumes") or []:
            secret = volume.get("secret")
            if isinstance(secret, dict):
                name = str(secret.get("secretName") or "")
                yield f'volume with secret.secretName="{name}"', name
    labels = {"initContainers": "init container", "containers": "container",
              "ephemeralContainers": "ephemeral container"}
    for field, label in labels.items():
        if field not in kinds:
            continue
        for container in spec.get(field) or []:
            cname = container.get("name", "")
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    yield (f'{label} {cname} with envVar {env.get("name", "")} referencing '
                           f'secret.secretName="{ref.get("name", "")}"', str(ref.get("name", "")))
            for source in container.get("envFrom") or []:
                ref = source.get("secretRef")
                if ref:
                    secret = str(ref.get("name", ""))
                    yield f'{label} {cname} with envFrom referencing secret.secretName="{secret}"', secret


class ServiceAccountAdmission:
    name = "ServiceAccount"

    def __init__(self, *, catalogue: Catalogue, cache: WatchCache) -> None:
        self._cache = cache
        self._pods = catalogue.lookup("", "v1", "pods")
        self._accounts = catalogue.lookup("", "v1", "serviceaccounts")

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        return self._accounts is not None and resource is self._pods and operation in ("CREATE", "UPDATE")

    @staticmethod
    def _ignored(request: AdmissionRequest) -> bool:
        if request.subresource not in ("", "ephemeralcontainers"):
            return True
        return not isinstance(request.obj.get("spec"), dict)

    async def admit(self, request: AdmissionRequest) -> AdmissionResult | None:
        if self._ignored(request) or request.operation != "CREATE" or _is_mirror(request.obj):
            return None  # a mirror pod is judged in validate, never changed
        spec = request.obj["spec"]
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec["serviceAccount"] = DEFAULT_SERVICE_ACCOUNT  # and its alias
        account = await self._account(request, str(spec["serviceAccountName"]))
        if should_automount(account, spec):
            mount_token(spec, generate_name(TOKEN_VOLUME_PREFIX))
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in account["imagePullSecrets"]]
        return None

    async def validate(self, request: AdmissionRequest) -> AdmissionResult | None:
        if self._ignored(request):
            return None
        spec = request.obj["spec"]
        if request.operation == "UPDATE":
            if request.subresource == "ephemeralcontainers":
                await self._check_secrets(request, spec, kinds=("ephemeralContainers",))
            return None
        if _is_mirror(request.obj):
            _check_mirror_pod(request, spec)
            return None
        await self._check_secrets(request, spec, kinds=("volumes", "initContainers", "containers"))
        return None

    async def _check_secrets(self, request: AdmissionRequest, spec: dict[str, Any], *,
                             kinds: tuple[str, ...]) -> None:
        account_name = str(spec.get("serviceAccountName") or "")
        if not account_name:
            raise _forbidden(request, f"no service account specified for pod {request.scope.namespace}/"
                                      f"{request.name}")
        account = await self._account(request, account_name)
        annotations = (account.get("metadata") or {}).get("annotations") or {}
        if str(annotations.get(ENFORCE_MOUNTABLE_SECRETS, "")).lower() not in ("true", "1", "t"):
            return  # upstream's strconv.ParseBool
        mountable = {str(s.get("name", "")) for s in account.get("secrets") or []}
        for text, secret in _secret_references(spec, kinds):
            if secret not in mountable:
                raise _forbidden(request, f"{text} is not allowed because service account {account_name} "
                                          "does not reference that secret")
        if "containers" in kinds:
            pull = {str(s.get("name", "")) for s in account.get("imagePullSecrets") or []}
            for index, ref in enumerate(spec.get("imagePullSecrets") or []):
                if ref.get("name") not in pull:
                    raise _forbidden(request, f'imagePullSecrets[{index}].name="{ref.get("name", "")}" '
                                              f"is not allowed because service account {account_name} "
                                              "does not reference that imagePullSecret")

    async def _account(self, request: AdmissionRequest, name: str) -> dict[str, Any]:
        """The account from the watch cache; refused as upstream's getServiceAccount when missing."""
        assert self._accounts is not None
        scope = request.scope
        key = object_key(self._accounts, Scope(tenant=scope.tenant, namespace=scope.namespace), name)
        segment = self._accounts.key_segment
        attempts = _DEFAULT_ACCOUNT_ATTEMPTS if name == DEFAULT_SERVICE_ACCOUNT else 1
        interval = random.uniform(0.1, 0.2)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(interval)
            # Looked up afresh each time: a cache reload replaces what it holds.
            cached = self._cache.resource(segment).objects.get(key)
            if cached is None and await self._cache.catch_up():
                cached = self._cache.resource(segment).objects.get(key)
            if cached is not None:
                return cached.obj
        missing = NotFound.object("serviceaccount", name).message
        raise _forbidden(request, f"error looking up service account {scope.namespace}/{name}: {missing}")


def _is_mirror(pod: dict[str, Any]) -> bool:
    return MIRROR_POD_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def _check_mirror_pod(request: AdmissionRequest, spec: dict[str, Any]) -> None:
    if spec.get("serviceAccountName"):
        raise _forbidden(request, "a mirror pod may not reference service accounts")
    kinds = ("volumes", "initContainers", "containers", "ephemeralContainers")
    if any(True for _ in _secret_references(spec, kinds)) or spec.get("imagePullSecrets") or any(
            "secret" in source for volume in spec.get("volumes") or []
            for source in (volume.get("projected") or {}).get("sources") or []):
        raise _forbidden(request, "a mirror pod may not reference secrets")
    for volume in spec.get("volumes") or []:
        if any("serviceAccountToken" in s for s in (volume.get("projected") or {}).get("sources") or []):
            raise _forbidden(request, "a mirror pod may not use ServiceAccountToken volume projections")
