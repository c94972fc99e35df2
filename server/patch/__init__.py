"""Applying the three patch formats the API server accepts (PATCH with json-patch, merge-patch and
strategic-merge-patch content types). Server-side apply is out of scope here."""

from __future__ import annotations

from server.patch.document import PatchError
from server.patch.json_patch import apply_json_patch
from server.patch.merge_patch import apply_merge_patch
from server.patch.strategic_merge import apply_strategic_merge_patch

__all__ = ["PatchError", "apply_json_patch", "apply_merge_patch", "apply_strategic_merge_patch"]
