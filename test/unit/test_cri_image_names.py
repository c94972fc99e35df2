"""Image references normalised as docker/distribution's ParseNormalizedNamed does.

Covers: short names under docker.io/library, default tag latest, registries told apart by a dot, a
port or localhost, digests kept, index.docker.io folded into docker.io, invalid references refused.
Leaves out: what a registry answers for them (the component tests pull through the mirror).
"""

from __future__ import annotations

import pytest

from cri.image_names import InvalidReference, parse_reference


@pytest.mark.parametrize(("text", "normalised"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("python:3", "docker.io/library/python:3"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("arktos/clusterdns:0.1", "docker.io/arktos/clusterdns:0.1"),
    ("docker.io/arktos/clusterdns:0.1", "docker.io/arktos/clusterdns:0.1"),
    ("index.docker.io/library/nginx", "docker.io/library/nginx:latest"),
    ("gcr.io/google_containers/pause", "gcr.io/google_containers/pause:latest"),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
    ("localhost/app", "localhost/app:latest"),
    ("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app:v1"),
    ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"),
])
def test_names_normalise_as_docker_does(text: str, normalised: str) -> None:
    assert str(parse_reference(text)) == normalised


def test_repository_is_the_path_the_registry_serves() -> None:
    ref = parse_reference("gcr.io/google_containers/pause")
    assert (ref.registry, ref.repository, ref.reference) == ("gcr.io", "google_containers/pause", "latest")
    assert parse_reference("nginx").repository == "library/nginx"
    # A first component without a dot or port is a path on docker.io, not a host.
    assert parse_reference("team/app").registry == "docker.io"


def test_digest_is_kept_and_wins_over_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    ref = parse_reference(f"busybox@{digest}")
    assert ref.digest == digest and ref.tag is None and ref.reference == digest
    assert str(ref) == f"docker.io/library/busybox@{digest}"


@pytest.mark.parametrize("text", ["", "Nginx", "nginx:", "nginx@sha256:xyz", "a//b", "nginx:bad tag", "-x"])
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(InvalidReference, match="invalid reference format"):
        parse_reference(text)
