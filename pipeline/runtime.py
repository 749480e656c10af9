"""Process runtime: the garbage collector's thresholds for every akhbar process (worker, pool, CLI, benchmarks).

CPython runs a young-generation collection after every 700 net container allocations. An article makes
thousands of short-lived tuples, lists and dicts (spans, matches, rows), nearly all freed by reference counting
before any collection could find them, so those collections walk survivors for nothing: on the benchmark corpus
they took 3-4 % of the chain's time (473 young and 42 middle collections per 2,000 articles, ~240 ms in all).
At 50,000 the same run makes one young collection (~15 ms). Cycles still get collected, later: at most about
50,000 objects of cyclic garbage wait, a few MB. The long-lived vocabularies are frozen by the enricher.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
THRESHOLDS = (YOUNG_THRESHOLD, 20, 10)


def tune_collector() -> None:
    """Set this process's collection thresholds (idempotent)."""
    gc.set_threshold(*THRESHOLDS)
