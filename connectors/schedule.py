"""Connectors: when to poll a source next — adaptive intervals, and exponential backoff with jitter on errors.

A source that brought new articles is polled more often (down to a quarter of its configured interval), a
quiet one less often (up to four times it). Errors back off exponentially from the configured interval with
"equal jitter" (half fixed, half random), never less than a server's ``Retry-After``.
"""

from __future__ import annotations

import random

MIN_FACTOR = 0.25
MAX_FACTOR = 4.0
SPEED_UP = 0.5
SLOW_DOWN = 1.25
MAX_BACKOFF = 6 * 3600.0


def next_interval(base: float, current: float | None, new_articles: int) -> float:
    """The next polling interval after a successful poll."""
    current = current or base
    if new_articles > 0:
        current *= SPEED_UP
    else:
        current *= SLOW_DOWN
    return min(max(current, base * MIN_FACTOR), base * MAX_FACTOR)


def backoff_delay(
    base: float,
    failures: int,
    retry_after: float | None = None,
    *,
    rng: random.Random | None = None,
    cap: float = MAX_BACKOFF,
) -> float:
    """Delay before retrying after ``failures`` consecutive failures (``failures >= 1``)."""
    ceiling = min(cap, max(base, 1.0) * 2 ** min(failures - 1, 30))
    jitter = (rng or random).uniform(0.5, 1.0)
    delay = ceiling * jitter
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
