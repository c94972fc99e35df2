"""Talking to netfilter through the iptables tools: restore, save, the jumps, and removal.

As upstream's ``pkg/util/iptables``: a sync is one ``iptables-restore --noflush`` transaction (the
kernel swaps the whole table at once, so no packet sees half a sync), ``iptables-save`` tells which
of our chains exist (to delete stale ones), and the jumps from the built-in chains are ensured one by
one (``-C`` then ``-I``), since those chains are shared with everyone else on the host. ``-w``
waits for the xtables lock other clusters' proxiers (and CNI plugins) hold. The tools are installed
with apt when missing, as the containerd runtime installs its own.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Iterable, Sequence

from proxy.chains import ChainNames
from proxy.rules import JumpRule

log = logging.getLogger(__name__)

APT_PACKAGES = ("iptables", "conntrack")


class IptablesError(RuntimeError):
    """An iptables tool failed; the message holds its stderr."""


def ensure_installed() -> None:
    """Installs iptables (and conntrack, for UDP clean-up) with apt if ``iptables-restore`` is missing."""
    if shutil.which("iptables-restore"):
        return
    log.info("iptables-restore not found; installing %s with apt", " ".join(APT_PACKAGES))
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *APT_PACKAGES]):
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            raise IptablesError(f"iptables is missing and {' '.join(cmd)} failed: {e}") from e


class Iptables:
    """The iptables commands of one network namespace (``netns``: run through ``ip netns exec``)."""

    def __init__(self, *, netns: str | None = None, timeout_s: float = 60.0) -> None:
        self._wrapper: tuple[str, ...] = ("ip", "netns", "exec", netns) if netns else ()
        self._timeout_s = timeout_s

    async def _run(self, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            *self._wrapper, *args, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), self._timeout_s)
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")

    async def restore(self, text: str) -> None:
        """Applies ``text`` as one transaction per table, leaving chains it does not name alone."""
        code, _, err = await self._run("iptables-restore", "-w", "5", "--noflush", stdin=text.encode())
        if code != 0:
            raise IptablesError(f"iptables-restore failed ({code}): {err.strip()}")

    async def chains(self, table: str) -> set[str]:
        """The chains that exist in ``table`` (from ``iptables-save``)."""
        code, out, err = await self._run("iptables-save", "-t", table)
        if code != 0:
            raise IptablesError(f"iptables-save -t {table} failed ({code}): {err.strip()}")
        return {line[1:].split(" ", 1)[0] for line in out.splitlines() if line.startswith(":")}

    async def rules(self, table: str) -> str:
        code, out, err = await self._run("iptables-save", "-t", table)
        if code != 0:
            raise IptablesError(f"iptables-save -t {table} failed ({code}): {err.strip()}")
        return out

    async def _has(self, rule: JumpRule) -> bool:
        code, _, _ = await self._run("iptables", "-w", "5", "-t", rule.table, "-C", rule.chain, *rule.args)
        return code == 0

    async def ensure_jumps(self, rules: Sequence[JumpRule]) -> None:
        """Puts each jump first in its built-in chain unless it is there already."""
        for rule in reversed(rules):
            if await self._has(rule):
                continue
            code, _, err = await self._run("iptables", "-w", "5", "-t", rule.table, "-I", rule.chain, "1",
                                           *rule.args)
            if code != 0:
                raise IptablesError(f"could not add the jump {rule}: {err.strip()}")

    async def ensure_first(self, rule: JumpRule, *, peers: str) -> None:
        """Keeps ``rule`` ahead of every rule of its built-in chain except ``peers`` (jumps whose
        target ends so; other clusters' isolation jumps, which never accept): another cluster's proxy
        inserting its accept rules at the top later must not let traffic past our check."""
        code, out, err = await self._run("iptables", "-w", "5", "-t", rule.table, "-S", rule.chain)
        if code != 0:
            raise IptablesError(f"iptables -S {rule.chain} failed ({code}): {err.strip()}")
        target = rule.args[-1]
        for line in out.splitlines():
            if not line.startswith(f"-A {rule.chain} "):
                continue
            if line.endswith(f"-j {target}"):
                return  # only peers before it
            if not line.endswith(peers):
                break
        # One transaction: no packet passes between the removal and the insertion.
        args = " ".join(f'"{arg}"' if " " in arg else arg for arg in rule.args)
        present = any(line.endswith(f" -j {target}") for line in out.splitlines())
        moves = [f"-D {rule.chain} {args}"] if present else []
        lines = [f"*{rule.table}", *moves, f"-I {rule.chain} 1 {args}", "COMMIT"]
        await self.restore("\n".join(lines) + "\n")

    async def remove_jumps(self, rules: Iterable[JumpRule]) -> None:
        for rule in rules:
            for _ in range(16):  # bounded: a rule added twice is removed twice
                if not await self._has(rule):
                    break
                await self._run("iptables", "-w", "5", "-t", rule.table, "-D", rule.chain, *rule.args)

    async def remove_chains(self, names: ChainNames) -> int:
        """Deletes every chain of this prefix in nat and filter (jumps must be gone first)."""
        sections = []
        removed = 0
        for table in ("filter", "nat"):
            own = sorted(c for c in await self.chains(table) if names.is_own(c))
            removed += len(own)
            if own:
                sections.append("\n".join([f"*{table}", *(f":{c} - [0:0]" for c in own),
                                           *(f"-X {c}" for c in own), "COMMIT"]) + "\n")
        if sections:
            await self.restore("".join(sections))
        return removed
