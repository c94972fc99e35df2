"""The SPDY/3 header-compression dictionary (spdy-protocol-draft3 §2.6.10.1).

Why this exists: every SPDY/3 header block is a zlib stream primed with this fixed dictionary; a peer
that uses a different one fails the zlib DICTID (Adler-32) check.  The spec publishes the dictionary as a
byte table; its first part is a run of length-prefixed (4-byte big-endian) header names and common values,
the rest a flat string of status lines, dates and media types.  We rebuild that table from the spec text
instead of pasting 1,423 hex bytes; `SPDY3_DICTIONARY_ADLER32` pins the result.
"""

from __future__ import annotations

import struct
import zlib

# Length-prefixed entries, in the order the spec lists them.
_PREFIXED_ENTRIES: tuple[str, ...] = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
    "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
    "if-range", "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma",
    "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after", "server", "te",
    "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
    "public", "set-cookie", "keep-alive", "origin",
)

# The unprefixed tail, concatenated exactly as the spec table spells it.
_FLAT_TAIL: str = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information"
    "204 No Content"
    "301 Moved Permanently"
    "400 Bad Request"
    "401 Unauthorized"
    "403 Forbidden"
    "404 Not Found"
    "500 Internal Server Error"
    "501 Not Implemented"
    "503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
    "text/plain,text/javascript,public"
    "privatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _build() -> bytes:
    prefixed = b"".join(struct.pack(">I", len(entry)) + entry.encode("ascii") for entry in _PREFIXED_ENTRIES)
    return prefixed + _FLAT_TAIL.encode("ascii")


SPDY3_DICTIONARY: bytes = _build()
SPDY3_DICTIONARY_LENGTH = 1423
# The DICTID every SPDY/3 zlib header block carries (bytes 2..5 after the 0x78 0xbb stream header).
SPDY3_DICTIONARY_ADLER32 = 0xE3C6A7C2

assert len(SPDY3_DICTIONARY) == SPDY3_DICTIONARY_LENGTH
assert zlib.adler32(SPDY3_DICTIONARY) == SPDY3_DICTIONARY_ADLER32
