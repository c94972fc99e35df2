"""Pushes built images to a registry over the OCI distribution HTTP API (no docker CLI here).

Per blob: ``HEAD /v2/<repo>/blobs/<digest>`` - present, nothing to send; else a monolithic upload,
``POST /v2/<repo>/blobs/uploads/`` then ``PUT <Location>?digest=<digest>`` with the bytes. A blob
already pushed to another repository is mounted instead (``POST ...?mount=<digest>&from=<repo>``), so
the shared base layer is uploaded once. Then ``PUT /v2/<repo>/manifests/<tag>`` per tag with the
manifest's own media type. Plain HTTP: the registry listens on loopback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import aiohttp

from cri.oci_image import BlobStore, Manifest

if TYPE_CHECKING:
    from cri.images import BuiltImage

logger = logging.getLogger(__name__)
_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=10)


class PushError(RuntimeError):
    """The registry refused a request; the message has its status and body."""


async def _expect(response: aiohttp.ClientResponse, *statuses: int) -> None:
    if response.status not in statuses:
        body = (await response.text())[:500]
        raise PushError(f"{response.method} {response.url}: {response.status} {body}")


class RegistryPusher:
    """One registry (``host:port``), remembering which repository holds which blob."""

    def __init__(self, session: aiohttp.ClientSession, registry: str, store: BlobStore) -> None:
        self._session = session
        self._base = f"http://{registry}/v2/"
        self._store = store
        self._holder: dict[str, str] = {}  # blob digest -> a repository it is in

    async def has_blob(self, repository: str, digest: str) -> bool:
        async with self._session.head(f"{self._base}{repository}/blobs/{digest}") as response:
            return response.status == 200

    async def push_blob(self, repository: str, digest: str) -> None:
        if await self.has_blob(repository, digest):
            self._holder.setdefault(digest, repository)
            return
        uploads = f"{self._base}{repository}/blobs/uploads/"
        params = {"mount": digest, "from": self._holder[digest]} if digest in self._holder else {}
        async with self._session.post(uploads, params=params) as response:
            await _expect(response, 201, 202)
            if response.status == 201:  # mounted from the other repository
                return
            location = urljoin(str(response.url), response.headers["Location"])
        data = self._store.read(digest)
        headers = {"Content-Type": "application/octet-stream"}
        async with self._session.put(location, params={"digest": digest}, data=data,
                                     headers=headers) as response:
            await _expect(response, 201)
        self._holder[digest] = repository

    async def push_manifest(self, repository: str, tag: str, manifest: Manifest) -> None:
        url = f"{self._base}{repository}/manifests/{tag}"
        headers = {"Content-Type": manifest.media_type}
        async with self._session.put(url, data=manifest.data, headers=headers) as response:
            await _expect(response, 201)

    async def push(self, manifest: Manifest, tags: dict[str, tuple[str, ...]]) -> None:
        for repository, repo_tags in tags.items():
            for digest in manifest.blob_digests:
                await self.push_blob(repository, digest)
            for tag in repo_tags:
                await self.push_manifest(repository, tag, manifest)
                logger.info("pushed %s:%s (%s)", repository, tag, manifest.digest)


async def push_images(registry: str, images: Iterable[BuiltImage], store: BlobStore) -> None:
    """Push every image under all its tags; images one after another (their layers overlap)."""
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        pusher = RegistryPusher(session, registry, store)
        for image in images:
            await pusher.push(image.manifest, image.tags)


async def wait_ready(registry: str, within_s: float = 20.0) -> None:
    """Until ``GET /v2/`` answers 200 (the API version check every client starts with)."""
    deadline = asyncio.get_running_loop().time() + within_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            try:
                async with session.get(f"http://{registry}/v2/") as response:
                    if response.status == 200:
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise PushError(f"registry {registry} not answering GET /v2/ after {within_s}s")
            await asyncio.sleep(0.1)
