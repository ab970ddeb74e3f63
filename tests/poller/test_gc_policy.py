"""The collector settings a poller process runs with (their effect is measured in benchmarks/)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from poller.gc_policy import FULL_COLLECTION_EVERY, settle_after_start_up


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_leave_the_collectors_view_and_full_collections_are_spaced_out() -> None:
    young, middle, _ = gc.get_threshold()
    built_at_start_up: list[list[int]] = [[] for _ in range(10)]  # stands for the wiring

    settle_after_start_up()

    in_view = {id(obj) for obj in gc.get_objects()}  # the frozen generation is not listed
    assert not any(id(obj) in in_view for obj in built_at_start_up)
    assert gc.get_threshold() == (young, middle, FULL_COLLECTION_EVERY)


@pytest.mark.usefixtures("restored_gc")
def test_young_cyclic_garbage_is_still_collected_after_settling() -> None:
    settle_after_start_up()

    class Node:
        def __init__(self) -> None:
            self.me = self

    for _ in range(5_000):
        Node()  # a cycle each: only the collector can free it

    # The automatic young-generation passes freed all but the last few hundred, with no full collection.
    assert sum(1 for obj in gc.get_objects() if type(obj) is Node) < 1_000
