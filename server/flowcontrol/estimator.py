"""How many seats a request takes: one, or for a LIST one per hundred objects it will go through.

Upstream's list work estimator (pkg/util/flowcontrol/request/list_work_estimator.go,
seatsBasedOnObjectCount): a list served from the watch cache goes through every stored object of
its scope; one read from the store at a revision (a ``continue`` token or
``resourceVersionMatch=Exact``) reads ``2 x limit`` rows, or the whole scope plus ``limit`` with a
selector; a list naming one object (``fieldSelector=metadata.name=...``) is one object. Seats =
ceil(objects / 100), at least 1 and at most 10 (``MaximumListSeatsLimit``), and never more than
the priority level has. Where upstream counts the resource across the cluster, we count the
objects of the scope the request lists (its tenant or namespace), which the watch cache knows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from server.request_info import RequestInfo

OBJECTS_PER_SEAT = 100
MAX_LIST_SEATS = 10


def list_objects(query: Mapping[str, str], stored: int) -> int:
    """Objects a LIST goes through, given ``stored`` objects in its scope."""
    field_selector = query.get("fieldSelector", "")
    if field_selector.startswith("metadata.name=") and "," not in field_selector:
        return 1
    limit = _int(query.get("limit", ""))
    limited = limit if 0 < limit < stored else stored
    from_store = bool(query.get("continue")) or query.get("resourceVersionMatch") == "Exact"
    if not from_store:
        return stored
    if field_selector or query.get("labelSelector"):
        return stored + limited
    return 2 * limited


def seats_for(info: RequestInfo, query: Mapping[str, str], *, stored: Callable[[], int],
              level_limit: int) -> int:
    """Seats of a request (``stored``: objects in the listed scope, asked only for LISTs)."""
    if info.verb != "list":
        return 1
    seats = math.ceil(list_objects(query, stored()) / OBJECTS_PER_SEAT)
    return max(1, min(seats, MAX_LIST_SEATS, level_limit))


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
