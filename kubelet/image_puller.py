"""Image pulls as the pod worker sees them: pull policy, back-off, and the events upstream records.

Upstream's kubelet image manager (``pkg/kubelet/images/image_manager.go`` EnsureImageExists) sits
between the pod worker and the runtime's image service; this is its counterpart over
`kubelet.runtime.Runtime.ensure_image`:

- the policy is resolved as the API defaults it (Always for ``:latest`` or an untagged image,
  else IfNotPresent); an image already present under IfNotPresent/Never is announced with
  ``Pulled`` "Container image \\"x\\" already present on machine";
- Never with the image missing fails with ``ErrImageNeverPull`` (a Warning event of that reason);
- a pull that fails records Warning ``Failed`` "Failed to pull image \\"x\\": <error>", starts a
  back-off per (pod uid, image) — 10 s doubling to 300 s — and fails with ``ErrImagePull`` whose
  message is the runtime's error; while that back-off runs, further attempts fail at once with
  ``ImagePullBackOff`` "Back-off pulling image \\"x\\"" and a Normal ``BackOff`` event;
- a pull that works records ``Pulling`` before and ``Pulled`` "Successfully pulled image ..." after.

The puller only checks presence with policy Never first, then asks the runtime to pull, so the
``Pulling`` event precedes the pull as upstream's does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from apis.images import default_pull_policy
from client.events import EventType
from kubelet.backoff import FlowBackoff
from kubelet.runtime import Runtime, RuntimeOperationError

# (event type, reason, message): how the puller reports to the pod's event stream.
EventRecorder = Callable[[EventType, str, str], None]

ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
IMAGE_ERRORS = frozenset({ERR_IMAGE_PULL, IMAGE_PULL_BACKOFF, ERR_IMAGE_NEVER_PULL, "ErrImageInspect",
                          "InvalidImageName"})


class ImagePuller:
    """Ensures a container's image exists, with upstream's per-(pod, image) pull back-off."""

    def __init__(self, *, backoff: FlowBackoff | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff = backoff or FlowBackoff()
        self._clock = clock

    @staticmethod
    def _key(pod_uid: str, image: str) -> str:
        return f"{pod_uid}_{image}"  # upstream's backOffKey

    def backoff_remaining(self, pod_uid: str, image: str) -> float:
        return self.backoff.remaining(self._key(pod_uid, image))

    async def ensure(self, runtime: Runtime, pod: dict[str, Any], container: dict[str, Any],
                     record: EventRecorder) -> str:
        """Answers the image reference to create the container from; raises `RuntimeOperationError`
        with one of the image reasons (``ErrImagePull``, ``ImagePullBackOff``, ...) otherwise."""
        image = str(container.get("image") or "")
        if not image:
            raise RuntimeOperationError("InvalidImageName", "Failed to apply default image tag \"\": "
                                        "couldn't parse image name \"\": invalid reference format")
        policy = str(container.get("imagePullPolicy") or default_pull_policy(image))
        if policy != "Always":
            try:
                present = await runtime.ensure_image(image, "Never")
            except RuntimeOperationError as e:
                if e.reason != ERR_IMAGE_NEVER_PULL:
                    raise
                if policy == "Never":
                    record("Warning", ERR_IMAGE_NEVER_PULL, e.message)
                    raise
            else:
                record("Normal", "Pulled", f'Container image "{image}" already present on machine')
                return present.image_ref
        key = self._key(str(pod["metadata"]["uid"]), image)
        if self.backoff.remaining(key) > 0:
            message = f'Back-off pulling image "{image}"'
            record("Normal", "BackOff", message)
            raise RuntimeOperationError(IMAGE_PULL_BACKOFF, message)
        record("Normal", "Pulling", f'Pulling image "{image}"')
        started = self._clock()
        try:
            result = await runtime.ensure_image(image, "Always")
        except RuntimeOperationError as e:
            record("Warning", "Failed", f'Failed to pull image "{image}": {e.message}')
            self.backoff.next(key)
            raise RuntimeOperationError(ERR_IMAGE_PULL, e.message) from None
        self.backoff.forget(key)
        if not result.pulled:
            # No registry answered but the runtime holds the image (our machines have no registry).
            record("Normal", "Pulled", f'Container image "{image}" already present on machine')
        else:
            took = self._clock() - started
            record("Normal", "Pulled",
                   f'Successfully pulled image "{image}" in {took:.3f}s ({took:.3f}s including waiting)')
        return result.image_ref

    def forget_pod(self, pod_uid: str) -> None:
        self.backoff.forget_prefix(f"{pod_uid}_")
