"""Reading Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

Stock kubectl sends typed objects in protobuf; the server turns them into the same JSON dicts a
JSON body would give with ``decode_kubernetes_protobuf``. Responses stay JSON.
"""

from __future__ import annotations

from server.protobuf.decoder import ENVELOPE_MAGIC, decode_kubernetes_protobuf
from server.protobuf.wire import ProtobufDecodeError, UnknownKindError

PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

__all__ = [
    "ENVELOPE_MAGIC", "PROTOBUF_MEDIA_TYPE", "ProtobufDecodeError", "UnknownKindError",
    "decode_kubernetes_protobuf",
]
