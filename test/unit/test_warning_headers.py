"""server.handlers.warning_headers: Warning header values built as upstream's recorder builds them.

Covers: the ``299 - "text"`` form with quotes and backslashes escaped, deduplication, texts with
control characters dropped (never written raw), non-ASCII kept, and truncation to 256 characters
each once all texts pass 4096 characters, stopping at the budget. Leaves out: the handlers that
produce the texts (test/component/test_api_limits.py checks the header end to end).
"""

from __future__ import annotations

from server.handlers.warning_headers import TRUNCATE_AT_TOTAL_CHARS, TRUNCATE_ITEM_CHARS, warning_headers


def test_texts_are_quoted_and_escaped() -> None:
    assert warning_headers(['unknown field "a\\\\b"']) == ['299 - "unknown field \\"a\\\\\\\\b\\""']
    assert warning_headers(["été"]) == ['299 - "été"']


def test_duplicates_and_empty_texts_are_dropped() -> None:
    assert warning_headers(["a", "", "a", "b"]) == ['299 - "a"', '299 - "b"']


def test_control_characters_never_reach_a_header() -> None:
    assert warning_headers(["bad\r\nX-Injected: 1", "tab\there", "nul\x00", "fine"]) == ['299 - "fine"']


def test_long_warnings_are_truncated_as_upstream() -> None:
    texts = [f"{i:03d}" + "x" * 1000 for i in range(20)]
    headers = warning_headers(texts)
    assert all(len(h) == len('299 - ""') + TRUNCATE_ITEM_CHARS for h in headers)
    assert len(headers) == TRUNCATE_AT_TOTAL_CHARS // TRUNCATE_ITEM_CHARS
    assert warning_headers(["short", "x" * 100]) == ['299 - "short"', f'299 - "{"x" * 100}"']
