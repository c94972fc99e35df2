"""Container image references: the one copy of "which imagePullPolicy does an image default to".

The API server defaults a container's (and an Arktos VM's) ``imagePullPolicy`` from its image,
and the kubelet applies the same default to a spec that reached it without one — the rule must
be the same on both sides. Upstream's ``SetDefaults_Container`` (pkg/apis/core/v1/defaults.go)
parses the reference (``parsers.ParseImageName``): no tag and no digest means tag ``latest``; tag
``latest`` pulls ``Always``, anything else ``IfNotPresent`` — so ``busybox@sha256:…`` is
IfNotPresent and ``busybox:latest@sha256:…`` is Always. A ``host:port/`` registry prefix is not
a tag: only the last path segment can carry one.
"""

from __future__ import annotations

PULL_ALWAYS = "Always"
PULL_IF_NOT_PRESENT = "IfNotPresent"
PULL_NEVER = "Never"


def image_tag(image: str) -> str:
    """The tag of an image reference; ``latest`` when it has neither a tag nor a digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    return tag or ("" if digest else "latest")


def default_pull_policy(image: str) -> str:
    """upstream ``SetDefaults_Container``'s ``imagePullPolicy``."""
    return PULL_ALWAYS if image_tag(image) == "latest" else PULL_IF_NOT_PRESENT
