"""Ctrl-C and SIGTERM both end a benchmark through its clean-up path.

A benchmark started in the background by a non-interactive shell (``bench/run-all.sh ... &``)
inherits SIGINT *ignored*, and Python then leaves it ignored: Ctrl-C would do nothing. SIGTERM
(what a CI job or ``timeout`` sends) would kill the script without running its ``finally``
blocks, leaving the API server, hollow kubelets or a whole arktos-up cluster behind. SIGTERM is
re-raised as SIGINT, so both take the same path: inside ``asyncio.run`` its runner cancels the
main task (which runs its ``finally`` blocks), outside it Python raises KeyboardInterrupt; the
scripts' context managers then stop what they started.
"""

from __future__ import annotations

import signal
from types import FrameType


def _as_ctrl_c(_signum: int, _frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)


def interrupt_on_signals() -> None:
    """SIGINT back to Python's default (KeyboardInterrupt); SIGTERM acts as SIGINT."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _as_ctrl_c)
