"""The HTTP server under the dispatcher: request-line limits as upstream's, failures as Status.

Requests aiohttp cannot parse never reach `ApiServer.dispatch`; aiohttp answers them itself in
plain text. Here they get a Kubernetes ``Status`` like every other error. A request line or a
header field past its limit is answered 431 Request Header Fields Too Large, the code Go's
net/http answers kube-apiserver's clients with (as plain text there; a Status here); anything else
malformed is 400.

The limits are smaller than Go's (``MaxHeaderBytes``: 1 MiB for the request line and headers
together): 64 KiB for the request line (eight times aiohttp's default, room for long label
selectors) and per header field, at most 128 fields. A megabyte of selector would cost this
server seconds to parse and match on every list, where Go spends milliseconds.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler

from server.errors import ApiError, BadRequest, InternalError, RequestHeaderFieldsTooLarge

log = logging.getLogger(__name__)

MAX_REQUEST_LINE_BYTES = 64 * 1024
MAX_HEADER_FIELD_BYTES = 65536
MAX_HEADERS = 128  # aiohttp's default, stated: 128 fields of at most 64 KiB each


def protocol_error(status: int, exc: BaseException | None) -> ApiError:
    """The Status for a request aiohttp refused (or, status 500, failed) outside the dispatcher."""
    if isinstance(exc, LineTooLong):
        return RequestHeaderFieldsTooLarge("the request line or a header field is too large: the "
                                           f"limit is {MAX_REQUEST_LINE_BYTES} bytes for the request "
                                           f"line and {MAX_HEADER_FIELD_BYTES} bytes per header field")
    if isinstance(exc, BadHttpMessage) or 400 <= status < 500:
        # aiohttp's messages may quote the offending bytes; keep only the first line's gist.
        reason = exc.message if isinstance(exc, BadHttpMessage) else "malformed request"
        return BadRequest(f"malformed HTTP request: {str(reason).splitlines()[0][:200]}")
    return InternalError("an internal error occurred")


class _StatusRequestHandler(RequestHandler):
    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            log.error("error serving %s %s", request.method, request.path, exc_info=exc)
        else:
            log.debug("refused a malformed request: %s", exc)
        if request.writer.output_size > 0:  # as aiohttp: a response has begun, nothing to add
            raise ConnectionError("response already started; cannot send the error Status")
        error = protocol_error(status, exc)
        response = web.Response(body=error.body(), status=error.code, content_type="application/json")
        response.force_close()
        return response


class StatusServer(web.Server):
    """aiohttp's low-level server whose protocol-level failures are answered as Status."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_line_size", MAX_REQUEST_LINE_BYTES)
        kwargs.setdefault("max_field_size", MAX_HEADER_FIELD_BYTES)
        kwargs.setdefault("max_headers", MAX_HEADERS)
        super().__init__(handler, **kwargs)

    def __call__(self) -> RequestHandler:
        return _StatusRequestHandler(self, loop=self._loop, **self._kwargs)
