"""StatusEdits: edits recorded without waiting, the newest per message wins, one in flight per message."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from bot.status_edits import MessageKey, StatusEdit, StatusEdits


class GatedSend:
    """A ``send`` that records every edit and holds the ones for gated messages until released."""

    def __init__(self) -> None:
        self.sent: list[StatusEdit] = []
        self.started: list[StatusEdit] = []
        self.gates: dict[MessageKey, asyncio.Event] = {}
        self.failing: set[MessageKey] = set()
        self.in_flight: defaultdict[MessageKey, int] = defaultdict(int)
        self.most_in_flight: defaultdict[MessageKey, int] = defaultdict(int)

    def hold(self, chat_id: int, message_id: int) -> asyncio.Event:
        gate = self.gates[(chat_id, message_id)] = asyncio.Event()
        return gate

    async def __call__(self, edit: StatusEdit) -> None:
        self.started.append(edit)
        self.in_flight[edit.key] += 1
        self.most_in_flight[edit.key] = max(self.most_in_flight[edit.key], self.in_flight[edit.key])
        try:
            if (gate := self.gates.get(edit.key)) is not None:
                await gate.wait()
            if edit.key in self.failing:
                raise RuntimeError("telegram said no")
            self.sent.append(edit)
        finally:
            self.in_flight[edit.key] -= 1


async def until(predicate: object) -> None:
    """Let the loop run until ``predicate()`` holds (the senders are tasks in this loop)."""
    assert callable(predicate)
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_put_returns_before_the_edit_is_sent() -> None:
    send = GatedSend()
    gate = send.hold(1, 10)
    edits = StatusEdits(send)

    edits.put(StatusEdit(1, 10, "being generated"))

    assert send.sent == []
    await until(lambda: send.started)
    gate.set()
    await edits.drain()
    assert [e.text for e in send.sent] == ["being generated"]


async def test_a_newer_edit_replaces_one_still_waiting_for_the_same_message() -> None:
    send = GatedSend()
    gate = send.hold(1, 10)
    edits = StatusEdits(send, senders=1)
    edits.put(StatusEdit(1, 10, "a: running"))
    await until(lambda: send.started)  # the only sender is busy with message 10

    edits.put(StatusEdit(2, 20, "b: waiting to start"))
    edits.put(StatusEdit(2, 20, "b: running"))
    gate.set()
    await edits.drain()

    assert [e.text for e in send.sent] == ["a: running", "b: running"]
    assert edits.replaced == 1


async def test_edits_of_one_message_land_in_order_never_two_at_once() -> None:
    send = GatedSend()
    gate = send.hold(1, 10)
    edits = StatusEdits(send, senders=4)
    edits.put(StatusEdit(1, 10, "running"))
    await until(lambda: send.started)

    edits.put(StatusEdit(1, 10, "delivering"))
    edits.put(StatusEdit(1, 10, "ready"))
    await until(lambda: edits.pending == 1)
    gate.set()
    await edits.drain()

    assert [e.text for e in send.sent] == ["running", "ready"]
    assert send.most_in_flight[(1, 10)] == 1


async def test_a_failing_edit_is_dropped_and_the_others_still_go() -> None:
    send = GatedSend()
    send.failing.add((1, 10))
    edits = StatusEdits(send, senders=1)

    edits.put(StatusEdit(1, 10, "message deleted by the user"))
    edits.put(StatusEdit(2, 20, "running"))
    await edits.drain()

    assert [e.key for e in send.started] == [(1, 10), (2, 20)]
    assert [e.text for e in send.sent] == ["running"]


async def test_beyond_max_pending_the_oldest_waiting_edit_is_dropped() -> None:
    send = GatedSend()
    gate = send.hold(1, 10)
    edits = StatusEdits(send, senders=1, max_pending=2)
    edits.put(StatusEdit(1, 10, "in flight"))
    await until(lambda: send.started)

    for message_id in (20, 30, 40):
        edits.put(StatusEdit(1, message_id, f"m{message_id}"))
    gate.set()
    await edits.drain()

    assert [e.text for e in send.sent] == ["in flight", "m30", "m40"]
    assert edits.dropped == 1


async def test_aclose_stops_the_senders_and_drops_what_waits() -> None:
    send = GatedSend()
    send.hold(1, 10)  # never released
    edits = StatusEdits(send, senders=1)
    edits.put(StatusEdit(1, 10, "stuck"))
    edits.put(StatusEdit(1, 20, "waiting"))
    await until(lambda: send.started)

    await edits.aclose()

    assert edits.pending == 0
    assert send.sent == []


def test_refuses_no_senders() -> None:
    with pytest.raises(ValueError, match="senders"):
        StatusEdits(GatedSend(), senders=0)
