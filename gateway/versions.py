"""Composite resourceVersions and continue tokens for collections merged over several partitions.

Each partition counts its own revisions, so a merged list has no single resourceVersion. The
gateway's is composite: ``gw.<rv of partition 0>.<rv of partition 1>…`` (empty where a partition
was not read), opaque to clients as upstream's are. A watch from one resumes each partition from its
own revision. A merged list's ``continue`` token names the partition the next page starts in and
that partition's own token (pages are filled partition after partition, in index order; a page
may hold fewer than ``limit`` items, as the API allows).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson

from gateway.status import BadRequest, Expired

_PREFIX = "gw."


def compose(versions: list[str]) -> str:
    return _PREFIX + ".".join(versions)


def decompose(version: str, count: int) -> list[str] | None:
    """Per-partition revisions of a composite version; None when ``version`` is not composite."""
    if not version.startswith(_PREFIX):
        return None
    parts = version[len(_PREFIX):].split(".")
    if len(parts) != count or not all(p.isdigit() or p == "" for p in parts):
        raise Expired(f"too old resource version: {version} (the set of partitions changed)")
    return parts


@dataclass(frozen=True, slots=True)
class MergedContinue:
    partition: int
    token: str
    versions: tuple[str, ...]

    def encode(self) -> str:
        raw = orjson.dumps({"p": self.partition, "c": self.token, "v": list(self.versions)})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, count: int) -> MergedContinue:
        try:
            data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            found = cls(int(data["p"]), str(data["c"]), tuple(str(v) for v in data["v"]))
        except (ValueError, KeyError, TypeError) as e:
            raise BadRequest(f"invalid continue token: {e}") from e
        if not 0 <= found.partition < count or len(found.versions) != count:
            raise Expired("the continue token does not match the gateway's partitions; restart the list")
        return found
