"""A container's environment as literals, resolved the way upstream's kubelet does it.

Mirrors ``makeEnvironmentVariables`` (pkg/kubelet/kubelet_pods.go): first every ``envFrom``
source in order (ConfigMap/Secret data, with the prefix, keys that are not valid env names skipped
and reported), then each ``env`` entry in order — a literal ``value`` with ``$(VAR)`` expanded
against what is defined so far (then the service variables), or a ``valueFrom`` looked up
(configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef). A later definition replaces an
earlier one. A missing, non-optional ConfigMap/Secret/key fails the container with
``CreateContainerConfigError`` and upstream's message. Service variables come last and never
override (upstream appends them only for names not set by the pod).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelet.downward_api import DownwardApiError, field_value, resource_value
from kubelet.pod_sources import ObjectSource, SourceError
from kubelet.runtime import RuntimeOperationError

CONFIG_ERROR = "CreateContainerConfigError"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # upstream IsEnvVarName
_VAR_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")

# Warnings upstream sends as events (InvalidEnvironmentVariableNames): (reason, message).
WarningSink = Callable[[str, str], None]


def config_error(message: str) -> RuntimeOperationError:
    return RuntimeOperationError(CONFIG_ERROR, message)


def expand_references(text: str, *envs: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined names (first mapping that has it) are substituted,
    ``$$`` is a literal ``$``, undefined references stay as written (upstream ``expansion.Expand``)."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        for env in envs:
            if name in env:
                return env[name]
        return match.group(0)
    return _VAR_REFERENCE.sub(replace, text)


def is_env_var_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name))


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's ``data`` (base64) as text, with ``stringData`` on top should a client send it."""
    values: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            values[str(key)] = base64.b64decode(str(value)).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            values[str(key)] = ""
    values.update({str(k): str(v) for k, v in (secret.get("stringData") or {}).items()})
    return values


@dataclass
class EnvContext:
    """What one container's env is resolved against."""

    source: ObjectSource
    host_ip: str = ""
    pod_ip: str = ""
    pod_ips: tuple[str, ...] = ()
    allocatable: Mapping[str, str] = field(default_factory=dict)
    service_env: Mapping[str, str] = field(default_factory=dict)
    warn: WarningSink | None = None


class _Lookups:
    """ConfigMaps/Secrets fetched once per container, as upstream's per-call maps."""

    def __init__(self, pod: dict[str, Any], source: ObjectSource) -> None:
        metadata = pod.get("metadata") or {}
        self.tenant = str(metadata.get("tenant") or "")
        self.namespace = str(metadata.get("namespace") or "")
        self.source = source
        self._cache: dict[tuple[str, str], dict[str, str] | None] = {}

    async def data(self, kind: str, name: str) -> dict[str, str] | None:
        """``kind`` is ConfigMap or Secret; None when it does not exist."""
        if (kind, name) not in self._cache:
            try:
                if kind == "ConfigMap":
                    obj = await self.source.config_map(self.tenant, self.namespace, name)
                    data = None if obj is None else {str(k): str(v)
                                                     for k, v in (obj.get("data") or {}).items()}
                else:
                    obj = await self.source.secret(self.tenant, self.namespace, name)
                    data = None if obj is None else _decoded(obj)
            except SourceError as e:
                raise config_error(str(e)) from e
            self._cache[(kind, name)] = data
        return self._cache[(kind, name)]

    @staticmethod
    def not_found(kind: str, name: str) -> RuntimeOperationError:
        # The kubelet's watch-based managers answer NotFound for resource "configmap"/"secret".
        return config_error(f'{kind.lower()} "{name}" not found')


async def _add_env_from(pod: dict[str, Any], container: dict[str, Any], lookups: _Lookups,
                        env: dict[str, str], warn: WarningSink | None) -> None:
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for kind, ref in (("ConfigMap", source.get("configMapRef")), ("Secret", source.get("secretRef"))):
            if ref is None:
                continue
            name = str(ref.get("name") or "")
            data = await lookups.data(kind, name)
            if data is None:
                if ref.get("optional"):
                    continue
                raise lookups.not_found(kind, name)
            invalid = []
            for key, value in data.items():
                if not is_env_var_name(prefix + key):
                    invalid.append(prefix + key)
                    continue
                env.pop(prefix + key, None)
                env[prefix + key] = value
            if invalid and warn is not None:
                warn("InvalidEnvironmentVariableNames",
                     f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {kind.lower()} "
                     f"{lookups.namespace}/{name} were skipped since they are considered invalid "
                     "environment variable names.")


async def _value_from(pod: dict[str, Any], container: dict[str, Any], source: dict[str, Any],
                      lookups: _Lookups, context: EnvContext) -> str | None:
    """The looked-up value; None when an optional source is missing (the variable is skipped)."""
    try:
        if (ref := source.get("fieldRef")) is not None:
            return field_value(pod, str(ref.get("fieldPath", "")), host_ip=context.host_ip,
                               pod_ip=context.pod_ip, pod_ips=context.pod_ips)
        if (ref := source.get("resourceFieldRef")) is not None:
            return resource_value(container, str(ref.get("resource", "")), ref.get("divisor"),
                                  allocatable=context.allocatable)
    except DownwardApiError as e:
        raise config_error(str(e)) from e
    for kind, ref in (("ConfigMap", source.get("configMapKeyRef")), ("Secret", source.get("secretKeyRef"))):
        if ref is None:
            continue
        name, key, optional = str(ref.get("name") or ""), str(ref.get("key") or ""), bool(ref.get("optional"))
        data = await lookups.data(kind, name)
        if data is None:
            if optional:
                return None
            raise lookups.not_found(kind, name)
        if key not in data:
            if optional:
                return None
            raise config_error(f"couldn't find key {key} in {kind} {lookups.namespace}/{name}")
        return data[key]
    return ""


async def resolve_env(pod: dict[str, Any], container: dict[str, Any],
                      context: EnvContext) -> list[tuple[str, str]]:
    """Every env var of ``container`` as ``(name, value)``, in definition order."""
    lookups = _Lookups(pod, context.source)
    env: dict[str, str] = {}
    await _add_env_from(pod, container, lookups, env, context.warn)
    for entry in container.get("env") or []:
        name = str(entry.get("name") or "")
        if not name:
            continue
        value: str | None = str(entry.get("value") or "")
        if value:
            value = expand_references(str(value), env, context.service_env)
        elif entry.get("valueFrom") is not None:
            value = await _value_from(pod, container, entry["valueFrom"], lookups, context)
            if value is None:
                continue
        env.pop(name, None)  # a redefinition moves the variable to its new place
        env[name] = value or ""
    for name, value in context.service_env.items():
        env.setdefault(name, value)
    return list(env.items())
