"""Image references as containerd and upstream read them: ``nginx`` is ``docker.io/library/nginx:latest``.

The registry we serve holds every image under its repository path only (``library/nginx``, ``pause``,
``google_containers/pause``): containerd's ``hosts.toml`` sends ``docker.io``, ``registry.k8s.io``,
``gcr.io``, ``quay.io`` and ``ghcr.io`` to it, and the path stays what the upstream host would have seen.
The rules are docker/distribution's ``reference.ParseNormalizedNamed``: the first component is a
registry host when it has a ``.`` or ``:`` or is ``localhost``; otherwise the name is on ``docker.io``,
and a one-component name there lives under ``library/``; no tag and no digest means ``:latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
# The upstream registries the local registry stands in for (containerd hosts.toml per host).
MIRRORED_REGISTRIES = ("docker.io", "registry.k8s.io", "gcr.io", "quay.io", "ghcr.io")

# distribution/reference: path components are lowercase alnum separated by '.', '_', '__' or '-'s.
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")


class InvalidReference(ValueError):
    """The string is no image reference (upstream: ``invalid reference format``)."""


@dataclass(frozen=True)
class ImageReference:
    """``registry/repository:tag`` or ``registry/repository@digest``, normalised."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/nginx``: the familiar name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """The tag, or the digest when there is one (what a manifest URL ends with)."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or DEFAULT_TAG}"


def _is_registry_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse_reference(text: str) -> ImageReference:
    """Normalise ``text`` as docker does: ``busybox`` → ``docker.io/library/busybox:latest``,
    ``gcr.io/google_containers/pause`` → tag latest, ``x@sha256:...`` keeps its digest."""
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(f"invalid reference format: {text!r}")
    tag = None
    last_slash = rest.rfind("/")
    if ":" in rest[last_slash + 1:]:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid reference format: {text!r}")
    components = rest.split("/")
    registry = DEFAULT_REGISTRY
    if len(components) > 1 and _is_registry_host(components[0]):
        registry, components = components[0], components[1:]
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if not components or not all(_COMPONENT.match(c) for c in components):
        raise InvalidReference(f"invalid reference format: {text!r}")
    if registry == DEFAULT_REGISTRY and len(components) == 1:
        components = ["library", *components]
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry, "/".join(components), tag, digest)
