"""The one fact below the registry about how storage keys are laid out: the resource segment.

Keys are ``/registry/{segment}/...`` (the registry builds them, `server.registry.keys`, following
Arktos's layout). Two consumers under the registry need the segment back from a key: the watch
cache, which files every object of the single ``/registry/`` watch under its resource, and the
encryption-at-rest transformer, which picks the transformer configured for that resource. Both ask
`segment_of`; it slices rather than splits because it runs once per stored event.
"""

from __future__ import annotations

REGISTRY_PREFIX = "/registry/"
_SEGMENT_START = len(REGISTRY_PREFIX)


def segment_of(key: str) -> str:
    """``pods`` for ``/registry/pods/system/default/web`` (and for ``/registry/pods``)."""
    end = key.find("/", _SEGMENT_START)
    return key[_SEGMENT_START:end if end >= 0 else None]
