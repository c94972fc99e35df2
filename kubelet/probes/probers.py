"""One probe run: exec, tcpSocket or httpGet against one container, answered as an `Outcome`.

Upstream's ``pkg/kubelet/prober/prober.go`` picks the handler from the probe spec and maps
its answer to success / failure / warning; an error (a probe the kubelet cannot even run, such as
a named port the container does not declare) is reported as ``ProbeError`` and upstream then
throws that run's result away. The texts are upstream's, since they reach the user through the
``Unhealthy`` events: an exec probe's output is the command's combined stdout and stderr, a timed
out one says ``command "..." timed out``; a TCP probe's failure reads like Go's dial error
(``dial tcp 10.0.0.5:80: connect: connection refused``). HTTP lives in `kubelet.probes.http_prober`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kubelet.probes.http_prober import probe_http
from kubelet.probes.outcome import Outcome, ProbeError, dial_error
from kubelet.runtime import Runtime, RuntimeOperationError

__all__ = ["Outcome", "ProbeError", "ProbeTarget", "resolve_port", "run_probe"]

_GRACE_S = 1.0  # our own guard past the runtime's exec timeout


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """Where a probe runs: the container attempt (for exec) and the pod's address (for the network)."""

    runtime: Runtime
    container_id: str
    container: dict[str, Any]
    pod_ip: str


def resolve_port(port: Any, container: dict[str, Any]) -> int:
    """A probe's ``port``: a number, or the name of one of the container's ``ports`` (upstream's
    ``findPortByName``)."""
    if isinstance(port, int):
        number = port
    elif isinstance(port, str) and port.isdigit():
        number = int(port)
    else:
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                number = int(declared.get("containerPort", 0))
                break
        else:
            raise ProbeError(f"port {port} not found")
    if not 0 < number < 65536:
        raise ProbeError(f"invalid port number: {number}")
    return number


async def run_probe(probe: dict[str, Any], target: ProbeTarget) -> Outcome:
    """Runs ``probe`` once within its ``timeoutSeconds``."""
    timeout_s = float(probe.get("timeoutSeconds") or 1)
    if "exec" in probe:
        return await probe_exec(list((probe["exec"] or {}).get("command") or []), target, timeout_s)
    if "httpGet" in probe:
        action = probe["httpGet"] or {}
        return await probe_http(action, host=str(action.get("host") or target.pod_ip),
                                port=resolve_port(action.get("port"), target.container),
                                timeout_s=timeout_s)
    if "tcpSocket" in probe:
        action = probe["tcpSocket"] or {}
        return await probe_tcp(str(action.get("host") or target.pod_ip),
                               resolve_port(action.get("port"), target.container), timeout_s)
    raise ProbeError("missing probe handler")


async def probe_exec(command: list[str], target: ProbeTarget, timeout_s: float) -> Outcome:
    """Exit 0 is success, any other exit a failure carrying the output; a command that outlives
    ``timeoutSeconds`` fails (upstream's ExecProbeTimeout, on since 1.20)."""
    timed_out = f'command "{" ".join(command)}" timed out'
    try:
        async with asyncio.timeout(timeout_s + _GRACE_S):
            result = await target.runtime.exec_sync(target.container_id, command, timeout_s=timeout_s)
    except TimeoutError:
        return Outcome("failure", timed_out)
    except RuntimeOperationError as e:
        if "DeadlineExceeded" in e.message or "timeout" in e.message.lower():
            return Outcome("failure", timed_out)
        raise ProbeError(e.message) from None
    output = (result.stdout + result.stderr).decode(errors="replace")
    return Outcome("success" if result.exit_code == 0 else "failure", output)


async def probe_tcp(host: str, port: int, timeout_s: float) -> Outcome:
    """Success when a TCP connection opens; the connection is closed at once."""
    address = f"{host}:{port}"
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return Outcome("failure", f"dial tcp {address}: i/o timeout")
    except OSError as e:
        return Outcome("failure", dial_error(address, e))
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return Outcome("success", "")
