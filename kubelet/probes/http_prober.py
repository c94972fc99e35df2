"""The httpGet probe: one GET to the container, success for any status in [200, 400).

Mirrors upstream's ``pkg/probe/http``: the URL is ``scheme://host:port/path`` (host defaults to the
pod IP, scheme HTTP or HTTPS — certificates are never verified), ``httpHeaders`` are sent as given
(a ``Host`` header sets the request's host), ``User-Agent: kube-probe/<major>.<minor>`` and
``Accept: */*`` are added when absent, and each probe opens a fresh connection (keep-alives off).
Redirects are followed up to 10 times while they stay on the same host; a redirect to another host
is not followed and ends the probe as a *warning* (counted as success) with "Probe terminated
redirects". Any other status fails with "HTTP probe failed with statuscode: N"; transport errors
fail with Go's ``Get "URL": ...`` text. At most 10 KiB of the body is read.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from yarl import URL

from apis.schemas import SERVED_KUBERNETES_VERSION
from kubelet.probes.outcome import Outcome, dial_error

MAX_REDIRECTS = 10
MAX_BODY_BYTES = 10 * 1024
USER_AGENT = f"kube-probe/{SERVED_KUBERNETES_VERSION}"


def probe_url(action: dict[str, Any], *, host: str, port: int) -> URL:
    scheme = str(action.get("scheme") or "HTTP").lower()
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    bracketed = f"[{host}]" if ":" in host else host
    return URL(f"{scheme}://{bracketed}:{port}{path}", encoded=False)


def probe_headers(action: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for header in action.get("httpHeaders") or []:
        name = str(header.get("name") or "")
        if name:
            headers[name] = str(header.get("value") or "")
    lowered = {name.lower() for name in headers}
    if "user-agent" not in lowered:
        headers["User-Agent"] = USER_AGENT
    if "accept" not in lowered:
        headers["Accept"] = "*/*"
    return headers


async def probe_http(action: dict[str, Any], *, host: str, port: int, timeout_s: float) -> Outcome:
    url = probe_url(action, host=host, port=port)
    headers = probe_headers(action)
    try:
        async with asyncio.timeout(timeout_s):
            return await _follow(url, headers)
    except TimeoutError:
        return Outcome("failure", f'Get "{url}": context deadline exceeded '
                                  "(Client.Timeout exceeded while awaiting headers)")


async def _follow(url: URL, headers: dict[str, str]) -> Outcome:
    connector = aiohttp.TCPConnector(ssl=False, force_close=True)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=True) as session:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with session.get(current, headers=headers, allow_redirects=False) as response:
                    body = (await response.content.read(MAX_BODY_BYTES)).decode(errors="replace")
                    status, location = response.status, response.headers.get("Location")
            except aiohttp.ClientConnectorError as e:
                return Outcome("failure", f'Get "{current}": {dial_error(f"{e.host}:{e.port}", e.os_error)}')
            except (aiohttp.ClientError, OSError) as e:
                return Outcome("failure", f'Get "{current}": {e}')
            if status in (301, 302, 303, 307, 308) and location:
                target = current.join(URL(location))
                if target.host != current.host:
                    # Upstream's redirect checker stops at a non-local redirect and keeps its reply.
                    return Outcome("warning", f"Probe terminated redirects, Response body: {body}")
                current = target
                continue
            if 200 <= status < 300:
                return Outcome("success", body)
            if 300 <= status < 400:
                return Outcome("warning", f"Probe terminated redirects, Response body: {body}")
            return Outcome("failure", f"HTTP probe failed with statuscode: {status}")
    return Outcome("failure", f'Get "{current}": stopped after {MAX_REDIRECTS} redirects')
