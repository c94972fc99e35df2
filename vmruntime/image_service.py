"""``runtime.v1.ImageService`` over the local VM image store (`vmruntime.images`).

Nothing can be downloaded here, so PullImage only resolves a name the store already has (any of an
image's aliases) and answers ``NOT_FOUND`` otherwise — the kubelet turns that into ``ErrImagePull``
as for a missing container image. Images are built by ``hack/build-vm-image.sh``, not removed over
the CRI (RemoveImage succeeds without deleting, so a kubelet image GC cannot break the node).
"""

from __future__ import annotations

import time
from typing import Any

import grpc

from cri.stubs import pb, pb_grpc
from vmruntime.images import ImageStore, VmImage


def image_message(image: VmImage) -> pb.Image:
    return pb.Image(id=image.id, repo_tags=list(image.names), size=image.size,
                    spec=pb.ImageSpec(image=image.names[0]))


class ImageServicer(pb_grpc.ImageServiceServicer):
    def __init__(self, images: ImageStore) -> None:
        self.images = images

    async def ListImages(self, request: Any, context: Any) -> pb.ListImagesResponse:
        wanted = request.filter.image.image if request.HasField("filter") else ""
        images = [self.images.find(wanted)] if wanted else self.images.all()
        return pb.ListImagesResponse(images=[image_message(i) for i in images if i is not None])

    async def ImageStatus(self, request: Any, context: Any) -> pb.ImageStatusResponse:
        image = self.images.find(request.image.image)
        if image is None:
            return pb.ImageStatusResponse()  # the CRI's "not present": no error, no image
        return pb.ImageStatusResponse(image=image_message(image))

    async def PullImage(self, request: Any, context: Any) -> pb.PullImageResponse:
        name = request.image.image
        image = self.images.find(name)
        if image is None:
            self.images.reload()  # built since start-up?
            image = self.images.find(name)
        if image is None:
            known = ", ".join(n for i in self.images.all() for n in i.names) or "none"
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"VM image {name!r} not found (no registry is reachable); local: {known}")
        assert image is not None
        return pb.PullImageResponse(image_ref=image.id)

    async def RemoveImage(self, request: Any, context: Any) -> pb.RemoveImageResponse:
        return pb.RemoveImageResponse()

    async def ImageFsInfo(self, request: Any, context: Any) -> pb.ImageFsInfoResponse:
        used = sum(i.size for i in self.images.all())
        usage = pb.FilesystemUsage(timestamp=time.time_ns(),
                                   fs_id=pb.FilesystemIdentifier(mountpoint=str(self.images.image_dir)),
                                   used_bytes=pb.UInt64Value(value=used),
                                   inodes_used=pb.UInt64Value(value=4 * len(self.images.all())))
        if not self.images.image_dir.exists():
            return pb.ImageFsInfoResponse()
        return pb.ImageFsInfoResponse(image_filesystems=[usage])
