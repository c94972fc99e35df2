"""``Warning`` response headers, built as upstream builds them, so no client text breaks a header.

Upstream (k8s.io/apiserver endpoints/filters/warning.go and apimachinery util/net
NewWarningHeader): each warning becomes ``299 - "<text>"`` with ``"`` and ``\\`` escaped; a text
that is not valid UTF-8 or holds a control character (CR, LF, ...) is dropped, never written;
duplicates are written once; and when the texts add up to more than 4096 characters every
warning is cut to 256 characters (texts themselves come quoted, e.g. ``unknown field "a\\r\\nb"``,
so a client's CR/LF shows up escaped rather than being dropped).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from aiohttp import web

TRUNCATE_AT_TOTAL_CHARS = 4 * 1024
TRUNCATE_ITEM_CHARS = 256


def _header(text: str) -> str | None:
    """``299 - "text"``, or None for a text upstream refuses to put in a header."""
    if not text.isprintable() and any(unicodedata.category(char) == "Cc" for char in text):
        return None  # control characters (unicode.IsControl upstream) never reach a header
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None  # lone surrogates: not valid UTF-8
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def warning_headers(texts: Iterable[str]) -> list[str]:
    """The Warning header values for ``texts``, deduplicated and truncated as upstream does."""
    unique = [text for text in dict.fromkeys(texts) if text]
    truncate = sum(len(text) for text in unique) > TRUNCATE_AT_TOTAL_CHARS
    headers: list[str] = []
    written = 0
    for text in unique:
        if truncate:
            if written >= TRUNCATE_AT_TOTAL_CHARS:
                break  # upstream keeps only the count of warnings past the budget
            text = text[:TRUNCATE_ITEM_CHARS]
        header = _header(text)
        if header is not None:
            headers.append(header)
            written += len(text)
    return headers


def add_warnings(response: web.StreamResponse, texts: Iterable[str] | None) -> None:
    for header in warning_headers(texts or ()):
        response.headers.add("Warning", header)
