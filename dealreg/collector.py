"""CPython's cyclic garbage collector, set for processes that run for long.

A service keeps a large heap as long as it runs (cached aggregates, the id of every stored
aggregate, the expiry index, the projections' documents) and makes short-lived objects by
the million (records, events, documents), which reference counting frees: it makes few
reference cycles. With CPython's default thresholds (700, 10, 10) the collector walks that
old heap again and again while it grows: a third of the one-process stack's CPU at 50,000
registrations (docs/performance.md, item 27). Collected less often, the few cycles live a
little longer, and the services' memory stays within its target (``make bench``).
"""

from __future__ import annotations

import gc

#: Allocations before the youngest generation is collected, then how many collections of
#: each generation before the next older one is (CPython's defaults: 700, 10, 10).
THRESHOLDS = (50_000, 20, 100)


def collect_less_often() -> None:
    """Set :data:`THRESHOLDS`, and leave what start-up made (modules, settings) out of
    every later collection."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
