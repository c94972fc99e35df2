"""A minimal asyncio client for qemu's QMP (the JSON machine protocol on the VM's unix socket).

One connection per operation: connect, read the greeting, ``qmp_capabilities``, run the commands,
close. The runtime's operations are rare (pause, reboot, snapshot), so nothing is kept open and a
restarted runtime needs no state to talk to an adopted VM. Asynchronous events that arrive between
replies (``STOP``, ``RESUME``, ``RESET``...) are skipped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

CONNECT_TIMEOUT_S = 5.0


class QmpError(RuntimeError):
    """QMP could not be reached, or answered a command with an ``error``."""


class QmpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def _message(self) -> dict[str, Any]:
        line = await self._reader.readline()
        if not line:
            raise QmpError("QMP connection closed (qemu exited?)")
        message: dict[str, Any] = json.loads(line)
        return message

    async def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._writer.write(json.dumps(request).encode() + b"\n")
        await self._writer.drain()
        while True:
            reply = await self._message()
            if "event" in reply:
                continue
            if "error" in reply:
                error = reply["error"]
                raise QmpError(f"{command}: {error.get('class')}: {error.get('desc')}")
            return reply.get("return")

    async def human(self, command_line: str) -> str:
        """A monitor (HMP) command such as ``savevm x``; HMP reports failures as text, so any
        output from the snapshot commands is an error message."""
        output = await self.execute("human-monitor-command", {"command-line": command_line})
        return str(output or "")

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, BrokenPipeError):
            pass


async def connect(socket_path: Path, timeout_s: float = CONNECT_TIMEOUT_S) -> QmpConnection:
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_unix_connection(str(socket_path), limit=1 << 20)
            connection = QmpConnection(reader, writer)
            greeting = await connection._message()
            if "QMP" not in greeting:
                raise QmpError(f"not a QMP greeting: {greeting}")
            await connection.execute("qmp_capabilities")
            return connection
    except (OSError, TimeoutError) as e:
        raise QmpError(f"cannot reach QMP at {socket_path}: {e}") from e


async def run_commands(socket_path: Path, *commands: tuple[str, dict[str, Any] | None],
                       timeout_s: float = 120.0) -> list[Any]:
    """Run ``commands`` in order on one connection; returns their results."""
    connection = await connect(socket_path)
    try:
        async with asyncio.timeout(timeout_s):
            return [await connection.execute(name, args) for name, args in commands]
    finally:
        await connection.close()


async def run_human(socket_path: Path, command_line: str, timeout_s: float = 120.0) -> str:
    connection = await connect(socket_path)
    try:
        async with asyncio.timeout(timeout_s):
            return await connection.human(command_line)
    finally:
        await connection.close()
