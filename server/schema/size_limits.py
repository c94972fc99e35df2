"""Upstream's limits on how much a client may put into one object, with upstream's messages.

The 3 MiB request-body limit (the handlers' concern) bounds what arrives; these bound what is
kept, so that one object cannot crowd out the store or the watch cache:
- ``metadata.annotations``: keys plus values at most 256 KiB (apimachinery
  ``ValidateAnnotationsSize``, ``TotalAnnotationSizeLimitB``), and every key a qualified name
  (``ValidateAnnotations`` checks the lowercased key);
- ConfigMap ``data`` plus ``binaryData`` at most 1 MiB (``ValidateConfigMap``: string values by
  their UTF-8 bytes, binary values decoded; reported at the root path, which upstream prints
  ``[]``);
- Secret ``data`` at most 1 MiB decoded (``ValidateSecret``, reported at ``data``); upstream merges
  ``stringData`` into ``data`` before validating, so its values count too.
"""

from __future__ import annotations

import binascii
from typing import Any

from apis.field_errors import FieldError, invalid, too_long
from server.schema.name_rules import qualified_name_errors

TOTAL_ANNOTATION_BYTES = 256 * 1024
MAX_DATA_BYTES = 1024 * 1024  # upstream core.MaxSecretSize, also ConfigMap's limit

Obj = dict[str, Any]


def _utf8_len(value: Any) -> int:
    return len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else 0


def _decoded_len(value: Any) -> int:
    """Bytes a base64 ``[]byte`` field holds (invalid base64 is the schema's problem)."""
    if not isinstance(value, str):
        return 0
    try:
        return len(binascii.a2b_base64(value))
    except binascii.Error:
        return (len(value) * 3) // 4


def annotation_errors(metadata: Obj) -> list[FieldError]:
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        return []
    errors = [invalid("metadata.annotations", key, message)
              for key in annotations for message in qualified_name_errors(key.lower())]
    total = sum(_utf8_len(key) + _utf8_len(value) for key, value in annotations.items())
    if total > TOTAL_ANNOTATION_BYTES:
        errors.append(too_long("metadata.annotations", TOTAL_ANNOTATION_BYTES))
    return errors


def configmap_size_errors(obj: Obj) -> list[FieldError]:
    data, binary = obj.get("data"), obj.get("binaryData")
    total = sum(_utf8_len(v) for v in data.values()) if isinstance(data, dict) else 0
    total += sum(_decoded_len(v) for v in binary.values()) if isinstance(binary, dict) else 0
    return [too_long("[]", MAX_DATA_BYTES)] if total > MAX_DATA_BYTES else []


def secret_size_errors(obj: Obj) -> list[FieldError]:
    data, string_data = obj.get("data"), obj.get("stringData")
    sizes = {k: _decoded_len(v) for k, v in data.items()} if isinstance(data, dict) else {}
    if isinstance(string_data, dict):
        sizes.update({k: _utf8_len(v) for k, v in string_data.items()})
    return [too_long("data", MAX_DATA_BYTES)] if sum(sizes.values()) > MAX_DATA_BYTES else []


def size_errors(obj: Obj) -> list[FieldError]:
    """The size limits every kind has (annotations); ConfigMap's and Secret's data limits are
    their records' rules (`configmap_size_errors`, `secret_size_errors`)."""
    metadata = obj.get("metadata")
    return annotation_errors(metadata) if isinstance(metadata, dict) else []
