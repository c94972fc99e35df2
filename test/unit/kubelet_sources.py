"""An in-memory `kubelet.pod_sources.ObjectSource` for the kubelet env/volume unit tests."""

from __future__ import annotations

import base64
import time
from typing import Any


class MemorySource:
    """ConfigMaps and Secrets by (namespace, name); tokens numbered so renewals are visible."""

    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.token_lifetime_s = 3600.0
        self.now = time.time()  # issue time of the tokens (tests with a fake clock set it)

    def add_config_map(self, namespace: str, name: str, data: dict[str, str],
                       binary: dict[str, bytes] | None = None) -> None:
        obj: dict[str, Any] = {"metadata": {"name": name, "namespace": namespace}, "data": dict(data)}
        if binary:
            obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
        self.config_maps[(namespace, name)] = obj

    def add_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.secrets[(namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    async def config_map(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.config_maps.get((namespace, name))

    async def secret(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get((namespace, name))

    async def service_account_token(self, tenant: str, namespace: str, name: str, *, audience: str,
                                    expiration_seconds: int, pod: dict[str, Any]) -> tuple[str, float]:
        self.token_requests.append({"tenant": tenant, "namespace": namespace, "account": name,
                                    "audience": audience, "seconds": expiration_seconds,
                                    "pod": pod["metadata"]["name"]})
        return f"token-{len(self.token_requests)}", self.now + self.token_lifetime_s
