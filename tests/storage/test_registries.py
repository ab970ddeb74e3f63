"""The small shared registries: callback tokens, external sessions, task bindings, update
de-duplication and late checks (single redis-server and cluster)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from poller.ports import LateCheckQueue
from storage.keys import InvalidKeyPart, RedisKeys
from storage.pipelined_commands import PipelinedCommands
from storage.redis_support import RedisClient
from storage.registries import CallbackTokens, ExternalSessions, LateChecks, TaskIndex, UpdateDeduplicator

pytestmark = pytest.mark.integration
KEYS = RedisKeys()


async def test_callback_token_maps_to_its_job_until_it_expires(any_redis: RedisClient) -> None:
    tokens = CallbackTokens(any_redis)
    await tokens.register("tok-abc", "j1", ttl_s=600)

    assert await tokens.job_for("tok-abc") == "j1"
    assert await tokens.job_for("tok-other") is None
    assert 0 < await any_redis.ttl(KEYS.callback_token("tok-abc")) <= 600


async def test_external_session_maps_to_a_chat_and_re_registering_moves_it(any_redis: RedisClient) -> None:
    sessions = ExternalSessions(any_redis, ttl_s=3600)
    await sessions.register("crm-42", -100123)
    await sessions.register("crm-42", 777)

    assert await sessions.chat_for("crm-42") == 777
    assert await sessions.chat_for("unknown") is None


async def test_external_session_ttl_starts_again_when_it_is_used(any_redis: RedisClient) -> None:
    sessions = ExternalSessions(any_redis, ttl_s=3600)
    await sessions.register("s1", 5)
    await any_redis.expire(KEYS.external_session("s1"), 10)  # nearly expired

    assert await sessions.chat_for("s1") == 5
    assert await any_redis.ttl(KEYS.external_session("s1")) > 3000


@pytest.mark.parametrize("session_id", ["{tag}", "a:b", "with space", "кіт", "1" * 200])
async def test_session_ids_with_any_characters_get_their_own_key(any_redis: RedisClient, session_id: str) -> None:
    sessions = ExternalSessions(any_redis)
    await sessions.register(session_id, 9)
    await sessions.register("other", 1)
    assert await sessions.chat_for(session_id) == 9


@pytest.mark.parametrize("session_id", ["", "x" * 201])
async def test_empty_or_overlong_session_ids_are_refused(any_redis: RedisClient, session_id: str) -> None:
    with pytest.raises(InvalidKeyPart):
        await ExternalSessions(any_redis).register(session_id, 9)


async def test_the_same_task_posted_twice_binds_to_one_job(any_redis: RedisClient) -> None:
    tasks = TaskIndex(any_redis)

    first = await tasks.bind("kie_veo", "task-1", "job-a")
    second = await tasks.bind("kie_veo", "task-1", "job-b")

    assert (first, second) == ("job-a", "job-a")
    assert await tasks.job_for("kie_veo", "task-1") == "job-a"
    assert await tasks.job_for("kie_market", "task-1") is None  # tasks are per provider


async def test_concurrent_binds_of_one_task_agree_on_one_job(any_redis: RedisClient) -> None:
    tasks = TaskIndex(any_redis)
    bound = await asyncio.gather(*(tasks.bind("kie_veo", "t", f"job-{n}") for n in range(10)))
    assert len(set(bound)) == 1
    assert await tasks.job_for("kie_veo", "t") == bound[0]


async def test_task_binding_expires_with_the_job_history(any_redis: RedisClient) -> None:
    await TaskIndex(any_redis, ttl_s=3600).bind("kie_veo", "t", "j")
    assert 0 < await any_redis.ttl(KEYS.task("kie_veo", "t")) <= 3600


async def test_an_update_is_handled_the_first_time_only(any_redis: RedisClient) -> None:
    updates = UpdateDeduplicator(any_redis)
    results = await asyncio.gather(*(updates.first_time(1001) for _ in range(5)))

    assert results.count(True) == 1
    assert await updates.first_time(1002) is True
    assert 0 < await any_redis.ttl(KEYS.telegram_update(1001)) <= 86400


async def test_an_update_whose_mark_was_sent_twice_is_still_handled(
    any_redis: RedisClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a broken connection does to the pipelined SET: the first copy lands, the reply is lost, the
    # command is sent again and finds the key taken, by its own mark.
    updates = UpdateDeduplicator(any_redis)
    execute = PipelinedCommands.execute

    async def sent_twice(self: PipelinedCommands, *command: Any) -> Any:
        if command[0] == "SET":
            await execute(self, *command)
        return await execute(self, *command)

    monkeypatch.setattr(PipelinedCommands, "execute", sent_twice)

    assert await updates.first_time(2001) is True
    assert await updates.first_time(2001) is False  # a real repeat still is one


def test_late_checks_implement_the_port(any_redis: RedisClient) -> None:
    checks = LateChecks(any_redis)
    port: LateCheckQueue = checks
    assert port is checks


async def test_late_checks_come_due_in_order_and_up_to_the_limit(any_redis: RedisClient) -> None:
    checks = LateChecks(any_redis)
    await checks.schedule("late", 100.0)
    await checks.schedule("later", 200.0)
    await checks.schedule("future", 900.0)

    assert await checks.due(now=250.0) == ["late", "later"]
    assert await checks.due(now=250.0, limit=1) == ["late"]
    assert await checks.due(now=50.0) == []
    assert await checks.pending() == 3


async def test_rescheduling_moves_a_check(any_redis: RedisClient) -> None:
    checks = LateChecks(any_redis)
    await checks.schedule("j", 100.0)
    await checks.schedule("j", 500.0)
    assert await checks.due(now=300.0) == []


async def test_a_due_check_is_taken_by_exactly_one_process(any_redis: RedisClient) -> None:
    checks = LateChecks(any_redis)
    await checks.schedule("j", 100.0)

    taken = await asyncio.gather(*(checks.take("j") for _ in range(5)))

    assert taken.count(True) == 1
    assert await checks.due(now=1000.0) == []


async def test_claim_due_lets_one_process_run_a_check_and_brings_it_back_if_that_one_dies(
    any_redis: RedisClient,
) -> None:
    checks = LateChecks(any_redis)
    await checks.schedule("j", 100.0)

    claimed = await asyncio.gather(*(checks.claim_due("j", retry_in_s=60, now=150.0) for _ in range(5)))

    assert claimed.count(True) == 1
    assert await checks.due(now=200.0) == []  # pushed to 210 while the winner works
    assert await checks.due(now=210.0) == ["j"]  # the winner died: due again
    assert await checks.claim_due("j", retry_in_s=60, now=205.0) is False
    assert await checks.claim_due("missing", retry_in_s=60, now=205.0) is False


async def test_non_positive_ttls_are_refused(any_redis: RedisClient) -> None:
    with pytest.raises(ValueError, match="positive"):
        await CallbackTokens(any_redis).register("t", "j", ttl_s=0)
    with pytest.raises(ValueError, match="positive"):
        ExternalSessions(any_redis, ttl_s=-1)
