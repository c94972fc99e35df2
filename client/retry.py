"""When the client tries a request again, and how long it waits first.

client-go's rest client retries a request that the server answered with ``Retry-After`` (429 and
5xx; ``rest/request.go`` ``checkWait``/``retryAfter``) and one that failed to connect; it waits
what the server asked for, else an exponential, jittered backoff. A controller must ride out an
API server restart without crashing, so connection errors are retried too — a bounded number of
times, after which the failure reaches the caller (and its workqueue's backoff takes over).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Statuses worth trying again: throttling and server-side failures.
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts a request gets and how long to wait between them."""

    max_attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 5.0
    # The server's Retry-After is honoured but capped, so one bad header cannot stall a client.
    max_retry_after: float = 30.0

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        exponential = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        # Full jitter spreads a herd of clients reconnecting after a server restart.
        return random.uniform(exponential / 2, exponential)

    def should_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only, as the API server sends)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
