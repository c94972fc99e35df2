"""The pure parts of the kubelet's streaming server: CRI log records, log query options, exec exits.

Covers: partial (`P`) records joined into one line stamped with the first fragment's time, records split
across reads, torn records skipped; tailLines/sinceSeconds/sinceTime/limitBytes and their 400s;
RFC 3339 times with nanoseconds; the runtime's exec error-stream Status → exit code or failure. Leaves
out files, HTTP and runtimes (the component test `test_kubelet_streaming.py` drives those against
containerd) and who may call (test_kubelet_access.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cri.stream_client import ExecExit, exec_exit
from kubelet.runtime import ContainerInfo
from kubelet.streaming.errors import StreamingError
from kubelet.streaming.log_files import (
    ByteBudget,
    CriLogParser,
    LogOptions,
    parse_log_options,
    parse_rfc3339,
    render_line,
    select_lines,
)
from kubelet.streaming.logs_handler import LogStreamer

RECORDS = (b"2024-01-01T00:00:01.000000001Z stdout P hel\n"
           b"2024-01-01T00:00:01.5Z stdout F lo\n"
           b"garbage\n"
           b"2024-01-01T00:00:02Z stderr F second\n"
           b"2024-01-01T00:00:03.25Z stdout F \n")


def test_partial_records_join_and_split_reads_are_reassembled() -> None:
    parser = CriLogParser()
    lines = [line for i in range(0, len(RECORDS), 7) for line in parser.feed(RECORDS[i:i + 7])]
    assert [(line.text, line.stream) for line in lines] == [
        (b"hello\n", "stdout"), (b"second\n", "stderr"), (b"\n", "stdout")]
    assert lines[0].timestamp == "2024-01-01T00:00:01.000000001Z"
    assert render_line(lines[0], LogOptions(timestamps=True)) == b"2024-01-01T00:00:01.000000001Z hello\n"


def test_an_unfinished_record_waits_for_its_newline() -> None:
    parser = CriLogParser()
    assert parser.feed(b"2024-01-01T00:00:01Z stdout F no newline yet") == []
    assert [line.text for line in parser.feed(b"\n")] == [b"no newline yet\n"]


def test_since_then_tail() -> None:
    lines = CriLogParser().feed(RECORDS)
    since = parse_rfc3339("2024-01-01T00:00:02Z")
    recent = select_lines(lines, LogOptions(since_seconds=since))
    assert [line.text for line in recent] == [b"second\n", b"\n"]
    assert [line.text for line in select_lines(lines, LogOptions(tail_lines=1))] == [b"\n"]
    assert select_lines(lines, LogOptions(tail_lines=0)) == []


def test_rfc3339_with_offsets_and_nanoseconds() -> None:
    assert parse_rfc3339("2024-01-01T02:00:00+02:00") == parse_rfc3339("2024-01-01T00:00:00Z")
    assert parse_rfc3339("2024-01-01T00:00:00.123456789Z") - parse_rfc3339("2024-01-01T00:00:00Z") == \
        pytest.approx(0.123456789)
    with pytest.raises(ValueError):
        parse_rfc3339("yesterday")


def test_log_options_from_a_query() -> None:
    options = parse_log_options({"follow": "true", "tailLines": "5", "sinceSeconds": "10", "timestamps": "1",
                                 "limitBytes": "100"}, now=1000.0)
    assert options == LogOptions(follow=True, tail_lines=5, since_seconds=990.0, timestamps=True,
                                 limit_bytes=100)
    for bad in ({"tailLines": "-1"}, {"limitBytes": "0"}, {"sinceTime": "nope"},
                {"sinceSeconds": "5", "sinceTime": "2024-01-01T00:00:00Z"}):
        with pytest.raises(StreamingError) as caught:
            parse_log_options(bad, now=0.0)
        assert caught.value.code == 400


def test_byte_budget_cuts_the_last_line() -> None:
    budget = ByteBudget(5)
    assert (budget.take(b"abc\n"), budget.take(b"defg\n"), budget.exhausted) == (b"abc\n", b"d", True)


def test_exec_error_stream_status() -> None:
    assert exec_exit(b"") == ExecExit(0)
    assert exec_exit(json.dumps({"status": "Success"}).encode()) == ExecExit(0)
    nonzero = {"status": "Failure", "reason": "NonZeroExitCode",
               "details": {"causes": [{"reason": "ExitCode", "message": "42"}]}}
    assert exec_exit(json.dumps(nonzero).encode()) == ExecExit(42)
    assert exec_exit(json.dumps({"status": "Failure", "message": "no such container"}).encode()) == \
        ExecExit(None, "no such container")
    assert exec_exit(b"plain text failure") == ExecExit(None, "plain text failure")


class _CollectingResponse:
    def __init__(self) -> None:
        self.body = b""

    async def write(self, data: bytes) -> None:
        self.body += data


async def test_tail_of_a_log_larger_than_one_read_chunk(tmp_path: Path) -> None:
    """``tailLines`` over a multi-megabyte file: read chunk by chunk, only the last lines kept."""
    log_path = tmp_path / "0.log"
    with log_path.open("w") as handle:
        for i in range(60_000):  # ~3.6 MB, several 1 MiB reads
            handle.write(f"2026-11-28T06:00:00.000000000Z stdout F line {i:06d} {'x' * 20}\n")
    attempt = ContainerInfo(id="c1", sandbox_id="s", pod_uid="u", name="c", attempt=0, state="exited",
                            image="busybox", image_ref="sha", created_at=0.0, log_path=str(log_path))
    response = _CollectingResponse()
    streamer = LogStreamer(Any, response, Any, attempt, LogOptions(tail_lines=2))  # type: ignore[arg-type]
    await streamer.run()
    assert response.body.decode().splitlines() == [f"line 059998 {'x' * 20}", f"line 059999 {'x' * 20}"]
    everything = _CollectingResponse()
    await LogStreamer(Any, everything, Any, attempt, LogOptions()).run()  # type: ignore[arg-type]
    assert everything.body.count(b"\n") == 60_000
