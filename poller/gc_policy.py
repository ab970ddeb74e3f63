"""Garbage-collector settings for a process that holds tens of thousands of scheduled jobs.

CPython's full (generation 2) collection traverses every tracked object while holding the event loop.
With 60,000 jobs held it took ~300 ms and ran every ~11 s: each poll then replaced the job's scheduler
entry, and the replaced entries counted towards the next full collection. Those pauses were the whole tail of
the engine's lag at the 60 s default (``benchmarks/stall_watch.py`` caught them; docs/performance.md
§1.2). Two settings address it; neither changes what is collected, only when:

* :func:`gc.freeze` after start-up moves the objects that live as long as the process (modules,
  classes, functions, the wiring: ~100k objects) out of the collector's view, so each full
  collection has less to traverse. Frozen objects are still freed by reference counting.
* A higher third threshold makes full collections rare (every ~8 minutes at 90,000 jobs instead of
  every ~10 s). Young garbage, which is nearly all of it, is still collected by the frequent
  generation 0 and 1 passes; only reference cycles that lived long enough to reach the oldest
  generation wait for the next full collection.

A full collection's pause grows with the tracked objects per held job: one APScheduler ``Job`` now
(``poller.scheduler`` keeps it for the task's life and shares one trigger; ``poller.heap_jobstore`` adds
none). With a ``Job`` and a ``DateTrigger`` per job it took ~0.3 s at 90,000 jobs.
"""

from __future__ import annotations

import gc

# A full collection is considered after this many generation-1 collections (CPython's default: 10).
FULL_COLLECTION_EVERY = 1000


def settle_after_start_up() -> None:
    """Freeze what start-up built and space out full collections; call once the process is wired."""
    gc.collect()  # so no start-up garbage is frozen with the rest
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
