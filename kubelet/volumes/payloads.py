"""The files of configMap, secret, downwardAPI and projected volumes, before they are written.

Each builder answers a payload (relative path → bytes and mode) as upstream's volume plugins'
``MakePayload`` functions do: every key of the object when ``items`` is empty, else exactly the
listed keys at their paths; ``mode`` per item, else the volume's ``defaultMode`` (0644); a missing
object or key fails the mount unless the source is ``optional``. Projected volumes merge their
sources' payloads and add service-account tokens (asked for through `TokenSource`, which caches
and renews them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubelet.downward_api import DownwardApiError, field_value, resource_value
from kubelet.pod_sources import ObjectSource, SourceError
from kubelet.volumes.atomic_writer import FileProjection

DEFAULT_MODE = 0o644
Payload = dict[str, FileProjection]


class VolumeError(Exception):
    """A volume cannot be set up; the text is what upstream puts after ``MountVolume.SetUp failed``."""


class TokenSource(Protocol):
    async def token(self, pod: dict[str, Any], *, audience: str, expiration_seconds: int) -> str: ...


@dataclass(frozen=True, slots=True)
class PayloadContext:
    pod: dict[str, Any]
    source: ObjectSource
    tokens: TokenSource
    allocatable: Mapping[str, str]
    host_ip: str = ""
    pod_ip: str = ""

    @property
    def tenant(self) -> str:
        return str((self.pod.get("metadata") or {}).get("tenant") or "")

    @property
    def namespace(self) -> str:
        return str((self.pod.get("metadata") or {}).get("namespace") or "")


def _mode(value: Any, default: int) -> int:
    return int(value) if value is not None else default


def _object_files(obj: dict[str, Any], kind: str) -> dict[str, bytes]:
    """Key → bytes: ConfigMap ``data`` (text) and ``binaryData``; Secret ``data`` (base64)."""
    files: dict[str, bytes] = {}
    if kind == "ConfigMap":
        files.update({str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()})
        for key, value in (obj.get("binaryData") or {}).items():
            files[str(key)] = _b64(value)
    else:
        files.update({str(k): _b64(v) for k, v in (obj.get("data") or {}).items()})
        files.update({str(k): str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return files


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value))
    except (binascii.Error, ValueError):
        return b""


async def object_payload(context: PayloadContext, kind: str, source: dict[str, Any],
                         default_mode: int) -> Payload:
    """A ``configMap``/``secret`` volume (or projection) source: ``name``, ``items``, ``optional``."""
    # A secret volume names its Secret ``secretName``; projections and configMaps say ``name``.
    name = str(source.get("name") or source.get("secretName") or "")
    optional = bool(source.get("optional"))
    try:
        if kind == "ConfigMap":
            obj = await context.source.config_map(context.tenant, context.namespace, name)
        else:
            obj = await context.source.secret(context.tenant, context.namespace, name)
    except SourceError as e:
        raise VolumeError(str(e)) from e
    if obj is None:
        if optional:
            return {}
        raise VolumeError(f'{kind.lower()} "{name}" not found')
    files = _object_files(obj, kind)
    items = source.get("items") or []
    if not items:
        return {key: FileProjection(data, default_mode) for key, data in files.items()}
    payload: Payload = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in files:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "ConfigMap" \
                else "references non-existent secret key"
            raise VolumeError(f"{what}: {key}")
        mode = _mode(item.get("mode"), default_mode)
        payload[str(item.get("path") or key)] = FileProjection(files[key], mode)
    return payload


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if container.get("name") == name:
            return dict(container)
    raise VolumeError(f"container {name} not found")


def downward_payload(context: PayloadContext, source: dict[str, Any], default_mode: int) -> Payload:
    """``downwardAPI`` items: ``fieldRef`` or ``resourceFieldRef`` (with ``containerName``)."""
    payload: Payload = {}
    for item in source.get("items") or []:
        try:
            if (ref := item.get("fieldRef")) is not None:
                value = field_value(context.pod, str(ref.get("fieldPath", "")), host_ip=context.host_ip,
                                    pod_ip=context.pod_ip)
            elif (ref := item.get("resourceFieldRef")) is not None:
                container = _container(context.pod, str(ref.get("containerName") or ""))
                value = resource_value(container, str(ref.get("resource", "")), ref.get("divisor"),
                                       allocatable=context.allocatable)
            else:
                continue
        except DownwardApiError as e:
            raise VolumeError(str(e)) from e
        mode = _mode(item.get("mode"), default_mode)
        payload[str(item.get("path") or "")] = FileProjection(value.encode(), mode)
    return payload


async def projected_payload(context: PayloadContext, volume: dict[str, Any]) -> Payload:
    """``projected.sources`` merged in order (later paths win, as upstream's map writes)."""
    default_mode = _mode(volume.get("defaultMode"), DEFAULT_MODE)
    payload: Payload = {}
    for source in volume.get("sources") or []:
        if (part := source.get("configMap")) is not None:
            payload.update(await object_payload(context, "ConfigMap", part, default_mode))
        elif (part := source.get("secret")) is not None:
            payload.update(await object_payload(context, "Secret", part, default_mode))
        elif (part := source.get("downwardAPI")) is not None:
            payload.update(downward_payload(context, part, default_mode))
        elif (part := source.get("serviceAccountToken")) is not None:
            token = await context.tokens.token(
                context.pod, audience=str(part.get("audience") or ""),
                expiration_seconds=int(part.get("expirationSeconds") or 3600))
            payload[str(part.get("path") or "token")] = FileProjection(token.encode(), default_mode)
    return payload


async def volume_payload(context: PayloadContext, volume: dict[str, Any]) -> Payload | None:
    """The payload of an atomically written volume; None for other kinds."""
    for key, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
        if (source := volume.get(key)) is not None:
            return await object_payload(context, kind, source, _mode(source.get("defaultMode"), DEFAULT_MODE))
    if (source := volume.get("downwardAPI")) is not None:
        return downward_payload(context, source, _mode(source.get("defaultMode"), DEFAULT_MODE))
    if (source := volume.get("projected")) is not None:
        return await projected_payload(context, source)
    return None
