"""Fixtures shared by the fault suite, and the table of timings it prints at the end of the run.

The fault suite drives whole clusters from hack/arktos-up.sh, so it reuses the e2e helpers
(`test/e2e/apiserver_process.py`, `test/e2e/test_arktos_up.py`); its scenarios record what they
measured (restart and takeover times) in `timings.TIMINGS`, printed here as one table after the
run, whether or not output capture is on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from timings import TIMINGS, table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "fault suite timings (seconds)")
        terminalreporter.write_line(table())
