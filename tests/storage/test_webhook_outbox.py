"""The outbox's scripts on a single node and on a cluster: stored with its index, claimed once, leases honoured."""

from __future__ import annotations

import asyncio

import pytest

from storage.redis_support import RedisClient
from storage.webhook_outbox import NewEvent, Target, WebhookOutbox, new_event_id

pytestmark = pytest.mark.integration

TARGET = Target("main", "https://hooks.test/h?token=t0k", "endpoint:main")


@pytest.fixture
def outbox(any_redis: RedisClient) -> WebhookOutbox:
    return WebhookOutbox(any_redis, prefix="t")


async def test_an_enqueued_event_is_stored_whole_and_due_at_once(outbox: WebhookOutbox) -> None:
    event_id = await outbox.enqueue("job.created", TARGET, '{"a":"é"}'.encode())

    assert event_id.startswith("msg_")
    assert await outbox.due_ids() == [event_id]
    event = await outbox.get(event_id)
    assert event is not None
    assert (event.type, event.target, event.body, event.attempts, event.state) == (
        "job.created",
        TARGET,
        '{"a":"é"}'.encode(),
        0,
        "pending",
    )


async def test_many_concurrent_claims_of_one_event_have_one_winner(outbox: WebhookOutbox) -> None:
    event_id = await outbox.enqueue("job.created", TARGET, b"{}")

    claims = await asyncio.gather(*(outbox.claim(event_id, lease_s=30) for _ in range(20)))

    winners = [claim for claim in claims if claim is not None]
    assert len(winners) == 1
    assert winners[0].attempts == 1
    assert winners[0].state == "sending"
    assert await outbox.due_ids() == []


async def test_a_delayed_event_is_not_claimed_before_it_is_due(outbox: WebhookOutbox) -> None:
    event_id = await outbox.enqueue("job.created", TARGET, b"{}", delay_s=0.3)

    assert await outbox.claim(event_id, lease_s=30) is None
    await asyncio.sleep(0.35)
    assert await outbox.claim(event_id, lease_s=30) is not None


async def test_a_finish_after_the_lease_passed_on_changes_nothing(outbox: WebhookOutbox) -> None:
    event_id = await outbox.enqueue("job.created", TARGET, b"{}")
    first = await outbox.claim(event_id, lease_s=0.1)
    assert first is not None
    await asyncio.sleep(0.15)
    second = await outbox.claim(event_id, lease_s=30)
    assert second is not None

    assert await outbox.dead_letter(first, "late") is False
    assert await outbox.retry_later(first, 0, "late") is False
    assert await outbox.delivered(second) is True
    assert await outbox.get(event_id) is None
    assert second.attempts == 2


async def test_requeue_knows_only_dead_letters(outbox: WebhookOutbox) -> None:
    waiting = await outbox.enqueue("job.created", TARGET, b"{}")
    assert await outbox.requeue(waiting) is None
    assert await outbox.requeue(new_event_id()) is None
    assert await outbox.due_ids() == [waiting]


async def test_enqueue_many_stores_every_target_of_an_event_in_one_step(outbox: WebhookOutbox) -> None:
    others = [Target(f"e{index}", f"https://hooks.test/{index}") for index in range(3)]

    ids = await outbox.enqueue_many([NewEvent("job.created", target, b"{}") for target in others])

    assert len(set(ids)) == 3
    assert sorted(await outbox.due_ids()) == sorted(ids)
    stored = [await outbox.get(event_id) for event_id in ids]
    assert [event.target for event in stored if event is not None] == others
    assert await outbox.enqueue_many([]) == []


async def test_storing_an_id_again_leaves_the_event_as_it_is(outbox: WebhookOutbox) -> None:
    event_id = await outbox.enqueue("job.created", TARGET, b'{"first":1}')
    claimed = await outbox.claim(event_id, lease_s=30)
    assert claimed is not None

    await outbox.enqueue("job.created", TARGET, b'{"second":2}', event_id=event_id)

    again = await outbox.get(event_id)
    assert again is not None
    assert (again.body, again.state, again.attempts) == (b'{"first":1}', "sending", 1)
    assert await outbox.due_ids() == []  # still leased, not due again


def test_a_targets_repr_never_shows_its_url() -> None:
    assert "t0k" not in repr(TARGET)
    assert "hooks.test" not in repr(NewEvent("job.created", TARGET, b"{}"))


async def test_prune_dead_forgets_only_old_dead_letters(outbox: WebhookOutbox) -> None:
    ids = []
    for _ in range(3):
        event_id = await outbox.enqueue("job.created", TARGET, b"{}")
        claimed = await outbox.claim(event_id, lease_s=30)
        assert claimed is not None
        await outbox.dead_letter(claimed, "HTTP 500")
        ids.append(event_id)
    waiting = await outbox.enqueue("job.created", TARGET, b"{}")

    assert await outbox.prune_dead(older_than_s=60) == 0
    await asyncio.sleep(0.05)
    assert await outbox.prune_dead(older_than_s=0.01, batch=2) == 2
    assert await outbox.prune_dead(older_than_s=0.01) == 1

    assert await outbox.dead() == []
    assert [await outbox.get(event_id) for event_id in ids] == [None, None, None]
    assert await outbox.get(waiting) is not None
