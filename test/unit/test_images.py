"""The imagePullPolicy default (apis/images.py), which the API server's defaulting and the kubelet
share.

Covers: upstream SetDefaults_Container's rule as a table — no tag and no digest means ``latest``
(Always), any other tag IfNotPresent, a digest without a tag IfNotPresent, a tag with a digest
keeps its tag, and a registry ``host:port`` is not a tag. Leaves out: where the default is
applied (test_defaults.py, test_kubelet_image_puller.py).
"""

from __future__ import annotations

import pytest

from apis.images import default_pull_policy, image_tag


@pytest.mark.parametrize(("image", "tag", "policy"), [
    ("busybox", "latest", "Always"),
    ("busybox:latest", "latest", "Always"),
    ("busybox:1.36", "1.36", "IfNotPresent"),
    ("localhost:5000/busybox", "latest", "Always"),
    ("registry:5000/busybox:1.36", "1.36", "IfNotPresent"),
    ("docker.io/library/busybox:latest", "latest", "Always"),
    ("busybox@sha256:abc", "", "IfNotPresent"),
    ("busybox:latest@sha256:abc", "latest", "Always"),
    ("busybox:1.36@sha256:abc", "1.36", "IfNotPresent"),
])
def test_pull_policy_follows_the_tag(image: str, tag: str, policy: str) -> None:
    assert image_tag(image) == tag
    assert default_pull_policy(image) == policy
