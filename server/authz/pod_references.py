"""What a pod spec references: the objects a node running the pod may read.

Mirrors the edges upstream's node authorizer graph (plugin/pkg/auth/authorizer/node
graph_populator.go, via podutil.VisitPodSecretNames/VisitPodConfigmapNames) draws from a pod:
its service account, image-pull secrets, secrets and config maps named in env/envFrom of every
container kind, and in secret, configMap, projected and volume-plugin ``secretRef`` volumes, and
its PersistentVolumeClaims (incl. generic ephemeral volumes, named ``{pod}-{volume}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

ReferenceKind = Literal["secrets", "configmaps", "persistentvolumeclaims", "serviceaccounts"]
# (kind, tenant, namespace, name)
Reference = tuple[ReferenceKind, str, str, str]

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _env_references(container: dict[str, Any]) -> Iterator[tuple[ReferenceKind, str]]:
    for env in container.get("env") or []:
        source = env.get("valueFrom") or {}
        if name := (source.get("secretKeyRef") or {}).get("name"):
            yield "secrets", name
        if name := (source.get("configMapKeyRef") or {}).get("name"):
            yield "configmaps", name
    for env_from in container.get("envFrom") or []:
        if name := (env_from.get("secretRef") or {}).get("name"):
            yield "secrets", name
        if name := (env_from.get("configMapRef") or {}).get("name"):
            yield "configmaps", name


def _volume_references(pod_name: str, volume: dict[str, Any]) -> Iterator[tuple[ReferenceKind, str]]:
    if name := (volume.get("secret") or {}).get("secretName"):
        yield "secrets", name
    if name := (volume.get("configMap") or {}).get("name"):
        yield "configmaps", name
    if name := (volume.get("persistentVolumeClaim") or {}).get("claimName"):
        yield "persistentvolumeclaims", name
    if volume.get("ephemeral") is not None:
        yield "persistentvolumeclaims", f"{pod_name}-{volume.get('name', '')}"
    for source in (volume.get("projected") or {}).get("sources") or []:
        if name := (source.get("secret") or {}).get("name"):
            yield "secrets", name
        if name := (source.get("configMap") or {}).get("name"):
            yield "configmaps", name
    # Volume plugins that name a credentials secret (cephfs, rbd, iscsi, flexVolume, csi, azureFile...).
    for key, plugin in volume.items():
        if not isinstance(plugin, dict) or key in ("secret", "configMap", "projected"):
            continue
        for field in ("secretRef", "nodePublishSecretRef"):
            if name := (plugin.get(field) or {}).get("name"):
                yield "secrets", name
        if key == "azureFile" and (name := plugin.get("secretName")):
            yield "secrets", name


def pod_references(pod: dict[str, Any]) -> Iterator[Reference]:
    """Every object ``pod`` references, in its own tenant and namespace."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    tenant = str(meta.get("tenant") or "system")
    namespace = str(meta.get("namespace") or "")
    pod_name = str(meta.get("name") or "")
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    yield "serviceaccounts", tenant, namespace, account
    for secret in spec.get("imagePullSecrets") or []:
        if name := secret.get("name"):
            yield "secrets", tenant, namespace, name
    for list_name in _CONTAINER_LISTS:
        for container in spec.get(list_name) or []:
            for kind, name in _env_references(container):
                yield kind, tenant, namespace, name
    for volume in spec.get("volumes") or []:
        for kind, name in _volume_references(pod_name, volume):
            yield kind, tenant, namespace, name
