"""The request timeout's clock (server.flowcontrol.deadlines): one timer per second of start times.

Covers: a task still running when its second's timer fires is cancelled and reported as timed
out; a task that ended in time is left alone; a task someone else cancelled too keeps its
cancellation. Uses a zero timeout, so each case waits for the end of the current second (< 1 s).
Leaves out the 504 Status itself (the component suite).
"""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from server.flowcontrol.deadlines import Deadlines


async def run_tracked(deadlines: Deadlines, work: asyncio.Event, *, also_cancel: bool = False) -> str:
    task = asyncio.current_task()
    assert task is not None
    tracked = deadlines.track(task)
    try:
        if also_cancel:
            # Someone else cancels just after the deadline, and both land before the task runs.
            loop = asyncio.get_running_loop()
            boundary = math.floor(loop.time()) + 1
            loop.call_at(boundary + 0.01, task.cancel)
            time.sleep(boundary + 0.05 - loop.time())  # noqa: ASYNC251 - hold the loop on purpose
        await work.wait()
        return "finished"
    except asyncio.CancelledError:
        if deadlines.timed_out(task):
            return "timed out"
        raise
    finally:
        deadlines.forget(task, tracked)


async def test_a_task_running_past_its_deadline_is_timed_out() -> None:
    deadlines = Deadlines(0)
    assert await asyncio.wait_for(run_tracked(deadlines, asyncio.Event()), 3) == "timed out"


async def test_a_task_that_ended_in_time_is_left_alone() -> None:
    deadlines = Deadlines(0)
    done = asyncio.Event()
    done.set()
    assert await run_tracked(deadlines, done) == "finished"
    await asyncio.sleep(1.1)  # the second's timer fires with nothing left to cancel
    assert await run_tracked(deadlines, done) == "finished"


async def test_another_cancellation_is_not_taken_for_a_timeout() -> None:
    deadlines = Deadlines(0)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run_tracked(deadlines, asyncio.Event(), also_cancel=True), 3)
