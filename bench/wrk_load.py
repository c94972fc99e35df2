"""Drive the server with wrk (a native load generator) and read its summary.

A Python client saturates its own core well below the server's rate (the issue measured a bare
aiohttp handler at ~21k GET/s with wrk), so throughput figures come from wrk; this module only
builds its command line and parses `Requests/sec`, the request count and non-2xx responses.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from server_process import LOAD_CPUS, pin_to

LUA_DIR = Path(__file__).resolve().parent / "lua"


class WrkMissing(RuntimeError):
    """wrk is not installed (bench/run-all.sh installs it from apt)."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_s: float
    non_2xx: int
    socket_errors: int
    raw: str

    @property
    def ok_per_s(self) -> float:
        return (self.requests - self.non_2xx) / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    threads: int = 1,
    script: str | None = None,
    headers: Sequence[str] = (),
    script_args: Sequence[str] = (),
) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkMissing("wrk not found: run bench/run-all.sh (apt-get install wrk)")
    argv = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    for header in headers:
        argv += ["-H", header]
    if script is not None:
        argv += ["-s", str(LUA_DIR / script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True,
                          preexec_fn=lambda: pin_to(LOAD_CPUS))
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> WrkResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)\b", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if total is None or rate is None:
        raise RuntimeError(f"cannot parse wrk output:\n{text}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[total.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * scale,
        requests_per_s=float(rate.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        raw=text,
    )
