"""Command-line values (apis.flags): Go booleans and Go durations as upstream's flags take them.

Covers the spellings components are started with (``--leader-elect=false``, ``--request-timeout=1m0s``)
and that anything else is refused. Leaves out the flags themselves (each component's tests).
"""

from __future__ import annotations

import argparse

import pytest

from apis.flags import boolean, duration


@pytest.mark.parametrize(("text", "value"), [("true", True), ("True", True), ("1", True), ("t", True),
                                             ("false", False), ("0", False), ("F", False), ("no", False)])
def test_booleans_read_as_go_does(text: str, value: bool) -> None:
    assert boolean(text) is value


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60.0), ("1m0s", 60.0), ("1h30m", 5400.0),
                                               ("500ms", 0.5), ("1.5s", 1.5), ("90", 90.0), ("0", 0.0)])
def test_durations_read_as_go_does(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "x", "1m0", "s", "1d", "ten seconds"])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


def test_other_booleans_are_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        boolean("maybe")
