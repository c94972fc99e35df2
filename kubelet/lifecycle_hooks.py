"""Container lifecycle hooks: ``postStart`` after a container starts, ``preStop`` before it is stopped.

Upstream's ``pkg/kubelet/lifecycle/handlers.go`` runs a hook's handler — ``exec`` in the container,
``httpGet`` against the pod (host defaults to the pod IP) or ``sleep`` — and reports a failure with
the messages reproduced here, because they reach users through the ``FailedPostStartHook`` and
``FailedPreStopHook`` events. A failed postStart hook gets the container killed (the restart
policy then applies); a failed preStop hook is only reported, the container is stopped anyway.
``tcpSocket`` handlers are accepted by the API for compatibility and, as upstream, do nothing.
The probes' runners (`kubelet.probes`) do the actual exec and HTTP work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from client.events import EventType
from kubelet.probes.http_prober import probe_http
from kubelet.probes.outcome import ProbeError
from kubelet.probes.probers import ProbeTarget, probe_exec, resolve_port
from kubelet.runtime import ContainerInfo, Runtime

HookEventSink = Callable[[EventType, str, str], None]

# Upstream gives a postStart hook no timeout of its own; this bounds a handler that never returns.
POST_START_TIMEOUT_S = 120.0


def hook_of(container: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """``container.lifecycle.postStart`` / ``preStop``, when set."""
    handler = (container.get("lifecycle") or {}).get(kind)
    return handler if isinstance(handler, dict) and handler else None


def _pod_label(pod: dict[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f'{metadata.get("name")}_{metadata.get("namespace")}({metadata.get("uid")})'


async def run_hook(handler: dict[str, Any], target: ProbeTarget, pod: dict[str, Any], *,
                   timeout_s: float) -> str | None:
    """Runs one hook handler within ``timeout_s``; None on success, else upstream's message."""
    name = str(target.container.get("name"))
    try:
        if "exec" in handler:
            command = [str(c) for c in (handler["exec"] or {}).get("command") or []]
            outcome = await probe_exec(command, target, timeout_s)
            if outcome.ok:
                return None
            return (f"Exec lifecycle hook ({command}) for Container \"{name}\" in Pod \"{_pod_label(pod)}\" "
                    f"failed - error: command '{' '.join(command)}' exited with a failure, "
                    f"message: {outcome.output!r}")
        if "httpGet" in handler:
            action = handler["httpGet"] or {}
            outcome = await probe_http(action, host=str(action.get("host") or target.pod_ip),
                                       port=resolve_port(action.get("port"), target.container),
                                       timeout_s=timeout_s)
            if outcome.ok:
                return None
            return (f"HTTP lifecycle hook ({action.get('path') or '/'}) for Container \"{name}\" in Pod "
                    f"\"{_pod_label(pod)}\" failed - error: {outcome.output}")
        if "sleep" in handler:
            seconds = float((handler["sleep"] or {}).get("seconds") or 0)
            await asyncio.sleep(max(0.0, min(seconds, timeout_s)))
            return None
        return None  # tcpSocket: accepted, not run (upstream)
    except ProbeError as e:
        return f"lifecycle hook for Container \"{name}\" in Pod \"{_pod_label(pod)}\" failed - error: {e}"


def _spec_containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = pod.get("spec") or {}
    return {str(c.get("name")): c for key in ("initContainers", "containers") for c in spec.get(key) or []}


async def run_pre_stop_hooks(pod: dict[str, Any], runtime: Runtime, live: list[ContainerInfo], *,
                             grace_s: float, record: HookEventSink) -> float:
    """Runs the preStop hooks of the ``live`` containers side by side, within the grace period
    (upstream's killContainer); answers the seconds they took, which the stop then lacks."""
    started = time.monotonic()
    specs = _spec_containers(pod)
    pod_ip = str((pod.get("status") or {}).get("podIP") or "")

    async def one(info: ContainerInfo) -> None:
        spec = specs.get(info.name) or {}
        handler = hook_of(spec, "preStop")
        if handler is None:
            return
        failure = await run_hook(handler, ProbeTarget(runtime, info.id, spec, pod_ip), pod, timeout_s=grace_s)
        if failure is not None:
            record("Warning", "FailedPreStopHook", failure)

    if any(hook_of(specs.get(c.name) or {}, "preStop") for c in live):
        try:
            async with asyncio.timeout(grace_s):
                await asyncio.gather(*(one(c) for c in live))
        except TimeoutError:
            record("Warning", "FailedPreStopHook",
                   f"PreStop hook of pod {_pod_label(pod)} did not finish within the grace period")
    return time.monotonic() - started


async def run_post_start_hook(pod: dict[str, Any], runtime: Runtime, container: dict[str, Any],
                              container_id: str, pod_ip: str) -> str | None:
    """The container's postStart hook, if any: None when it succeeded (or there is none)."""
    handler = hook_of(container, "postStart")
    if handler is None:
        return None
    return await run_hook(handler, ProbeTarget(runtime, container_id, container, pod_ip), pod,
                          timeout_s=POST_START_TIMEOUT_S)
