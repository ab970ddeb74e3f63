"""Garbage-collector settings for a process that holds tens of thousands of scheduled jobs.

CPython's full (generation 2) collection traverses every tracked object and holds the event loop
while it does: with 60,000 jobs held it took ~300 ms, every ~11 s, because each poll replaces the
job's scheduler entry and the replaced entries count towards the next full collection. Those pauses
were the whole tail of the engine's lag at the 60 s default (benchmarks/stall_watch.py found them;
docs/performance.md §1.2). Two settings address it, neither changes what is collected:

* :func:`gc.freeze` after start-up moves the objects that live as long as the process (modules,
  classes, functions, the wiring) out of the collector's view, so each full collection has less to
  traverse. Frozen objects are still freed by reference counting.
* A higher third threshold makes full collections rarer. Young garbage (almost all of it) is still
  collected by the frequent generation 0/1 passes; only cycles that lived long enough to reach the
  oldest generation wait longer.
"""

from __future__ import annotations

import gc

# A full collection is considered after this many generation-1 collections (CPython's default: 10).
FULL_COLLECTION_EVERY = 100


def settle_after_start_up() -> None:
    """Freeze what start-up built and space out full collections; call once the process is wired."""
    gc.collect()  # so no start-up garbage is frozen with the rest
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
