"""Image pulls as the kubelet's image manager does them, over an in-memory runtime.

Covers IfNotPresent finding the image ("already present on machine"),
Never without the image (ErrImageNeverPull), a failing pull (Warning Failed "Failed to pull image",
ErrImagePull with the runtime's message) followed by ImagePullBackOff while the 10 s back-off runs
(Normal BackOff 'Back-off pulling image "x"'), the back-off doubling to 300 s (`FlowBackoff` with an
injected clock), and the pod worker showing ErrImagePull then ImagePullBackOff as the container's
waiting reason with upstream's events. Leaves out containerd (component test) and the pull-policy
default itself (test_images.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from kubelet_fakes import ScriptedRuntime, syncer_on

from client.events import EventType
from kubelet.backoff import FlowBackoff
from kubelet.image_puller import ImagePuller
from kubelet.runtime import ImageResult, RuntimeOperationError


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class StoreRuntime(ScriptedRuntime):
    """Holds a fixed set of images; pulling anything else fails as containerd does offline."""

    def __init__(self, images: set[str]) -> None:
        super().__init__()
        self.images = images
        self.pulls = 0

    async def ensure_image(self, image: str, pull_policy: str) -> ImageResult:
        if image in self.images:
            return ImageResult(image_ref=f"sha256:{image}", pulled=False)
        if pull_policy == "Never":
            raise RuntimeOperationError(
                "ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never')
        self.pulls += 1
        raise RuntimeOperationError("ErrImagePull", f'rpc error: code = Unknown desc = failed to pull and '
                                                    f'unpack image "docker.io/library/{image}": no registry')


def recorder() -> tuple[list[tuple[str, str, str]], Any]:
    seen: list[tuple[str, str, str]] = []

    def record(event_type: EventType, reason: str, message: str) -> None:
        seen.append((event_type, reason, message))
    return seen, record


POD = {"metadata": {"uid": "u1", "name": "p", "namespace": "default"}}


async def test_present_image_is_not_pulled() -> None:
    runtime = StoreRuntime({"busybox:1.36"})
    seen, record = recorder()
    ref = await ImagePuller().ensure(runtime, POD, {"image": "busybox:1.36"}, record)
    assert ref == "sha256:busybox:1.36" and runtime.pulls == 0
    assert seen == [("Normal", "Pulled", 'Container image "busybox:1.36" already present on machine')]


async def test_never_without_the_image() -> None:
    seen, record = recorder()
    with pytest.raises(RuntimeOperationError) as failed:
        await ImagePuller().ensure(StoreRuntime(set()), POD, {"image": "x:1", "imagePullPolicy": "Never"},
                                   record)
    assert failed.value.reason == "ErrImageNeverPull"
    assert seen == [("Warning", "ErrImageNeverPull",
                     'Container image "x:1" is not present with pull policy of Never')]


async def test_failed_pull_then_back_off() -> None:
    clock = Clock()
    puller = ImagePuller(backoff=FlowBackoff(clock=clock))
    runtime = StoreRuntime(set())
    seen, record = recorder()
    with pytest.raises(RuntimeOperationError) as first:
        await puller.ensure(runtime, POD, {"image": "nope:1"}, record)
    assert first.value.reason == "ErrImagePull"
    assert first.value.message.startswith("rpc error: code = Unknown desc = failed to pull and unpack image")
    assert seen[0] == ("Normal", "Pulling", 'Pulling image "nope:1"')
    assert seen[1][:2] == ("Warning", "Failed")
    assert seen[1][2].startswith('Failed to pull image "nope:1": rpc')
    clock.now += 9
    with pytest.raises(RuntimeOperationError) as backing_off:
        await puller.ensure(runtime, POD, {"image": "nope:1"}, record)
    assert (backing_off.value.reason, backing_off.value.message) == (
        "ImagePullBackOff", 'Back-off pulling image "nope:1"')
    assert seen[-1] == ("Normal", "BackOff", 'Back-off pulling image "nope:1"') and runtime.pulls == 1
    assert puller.backoff_remaining("u1", "nope:1") == pytest.approx(1.0)
    clock.now += 1.5
    with pytest.raises(RuntimeOperationError) as again:
        await puller.ensure(runtime, POD, {"image": "nope:1"}, record)
    assert again.value.reason == "ErrImagePull" and runtime.pulls == 2
    assert puller.backoff_remaining("u1", "nope:1") == pytest.approx(20.0)


def test_flow_backoff_doubles_to_the_maximum_and_resets_when_idle() -> None:
    clock = Clock()
    backoff = FlowBackoff(clock=clock)
    assert [backoff.next("k") for _ in range(7)] == [10, 20, 40, 80, 160, 300, 300]
    clock.now += 601
    assert backoff.remaining("k") == 0 and backoff.next("k") == 10


async def test_pod_shows_err_image_pull_then_image_pull_back_off() -> None:
    runtime = StoreRuntime(set())
    syncer, node, events, status = syncer_on(runtime)
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "uid-img"},
           "spec": {"containers": [{"name": "app", "image": "nope:1"}]}, "status": {}}
    requeue = await syncer.sync_pod(node, pod)
    waiting = status.latest["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull" and "failed to pull and unpack image" in waiting["message"]
    assert status.latest["phase"] == "Pending" and requeue == 1.0
    assert ("Warning", "Failed", "Error: ErrImagePull") in events.seen
    requeue = await syncer.sync_pod(node, pod)
    assert status.latest["containerStatuses"][0]["state"]["waiting"] == {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "nope:1"'}
    assert requeue is not None and 5 < requeue <= 10
    assert ("Warning", "Failed", "Error: ImagePullBackOff") in events.seen
    await syncer.probes.aclose()
