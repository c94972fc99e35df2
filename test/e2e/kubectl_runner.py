"""Run stock kubectl binaries against the test server, always with a timeout.

Both binaries the issue names are driven the same way: kubectl 1.32 and 1.37, which `make`
installs into the venv (kubectl_binaries.py says where). Every call has a bound, and a failure message
that carries the command line, exit code, stdout and stderr, so a red test says what kubectl said.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 30.0


class KubectlFailed(AssertionError):
    """kubectl exited non-zero where the test expected success (or timed out)."""


@dataclass(frozen=True)
class Kubectl:
    """One kubectl binary bound to one kubeconfig and a private discovery cache."""

    binary: str
    kubeconfig: Path
    cache_dir: Path
    label: str

    def argv(self, *args: str) -> list[str]:
        # A private --cache-dir: a discovery cache left by an earlier server on the same port
        # would otherwise answer for this one.
        return [self.binary, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = self.argv(*args)
        try:
            result = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.environment(env),
                stdin=None if stdin is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as e:
            raise KubectlFailed(
                f"[{self.label}] timed out after {timeout}s: {' '.join(argv)}\n"
                f"stdout:\n{_text(e.stdout)}\nstderr:\n{_text(e.stderr)}"
            ) from e
        if check and result.returncode != 0:
            raise KubectlFailed(describe(self.label, argv, result))
        return result

    def json(self, *args: str, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        """Runs with `-o json` and decodes stdout."""
        result = self.run(*args, "-o", "json", timeout=timeout)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as e:
            raise KubectlFailed(f"[{self.label}] stdout is not JSON: {result.stdout[:2000]!r}") from e

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """A long-running kubectl (get -w, wait); the caller must stop it."""
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
            env=self.environment(),
            start_new_session=True,
        )


def describe(label: str, argv: list[str], result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"[{label}] exit {result.returncode}: {' '.join(argv)}\n"
        f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    )


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
