"""The create-a-job use case: its order of steps, its refusals, and nothing held for a job that is not stored.

The real Redis stores (jobs, sessions, credits, daily quota) on fakeredis, which runs their Lua scripts; a
wrapper around the job store injects the failures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from poller.create_job import (
    BadPrompt,
    Created,
    CreationRules,
    DailyLimitReached,
    JobCreator,
    JobRequest,
    ModelNotOffered,
    NotStored,
    OutOfCredits,
    ParentGone,
    TakesNoPhoto,
    TooManyInProgress,
    UnknownModel,
    VideoNotYours,
)
from poller.jobs import Job, JobOptions, JobStatus, TaskKind
from poller.ports import Session
from poller.prompts import PromptKind
from poller.worker import NEW_JOB
from storage.credits import RedisCredits
from storage.daily_quota import RedisDailyQuota
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from tests.poller.fakes import RecordingEvents

ALICE, BOB, ADMIN = 11, 12, 99
BALANCE = 100
PRICES = {"veo3_fast": {8: 10}, "up_1080p": {8: 3}, "up_4k": {8: 15}}
UPGRADE_PRICES = {TaskKind.UPSCALE_1080P: "up_1080p", TaskKind.UPSCALE_4K: "up_4k"}
NOON = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC).timestamp()


class Models:
    def provider_for(self, model: str) -> str | None:
        return "kie_veo" if model in ("veo3_fast", "veo3") else None

    def knows(self, model: str) -> bool:
        return model in ("veo3_fast", "veo3", "veo3_lite")  # veo3_lite: known, not enabled

    FRAMES: ClassVar[dict[str, int]] = {"veo3_fast": 2}  # veo3 takes no photo here (unless a test says so)

    def frames_taken(self, model: str) -> int:
        return self.FRAMES.get(model, 0)


class Prices:
    def price(self, model: str, duration_s: int, kind: TaskKind = TaskKind.GENERATE) -> int | None:
        return PRICES.get(UPGRADE_PRICES.get(kind, model), {}).get(duration_s)


class FlakyJobStore(RedisJobStore):
    """The real store, whose next create fails with ``error`` (before writing, or after: a lost reply)."""

    error: BaseException | None = None
    after_write = False
    hold: asyncio.Event | None = None

    async def create(self, job: Job, session: Session, *, max_active: int | None = None) -> None:
        if self.hold is not None:
            await self.hold.wait()
        error, self.error = self.error, None
        if error is not None and not self.after_write:
            raise error
        await super().create(job, session, max_active=max_active)
        if error is not None:
            raise error


class CountingCredits(RedisCredits):
    refunds: int = 0

    async def refund(self, user_id: int, job_id: str) -> bool:
        self.refunds += 1
        return await super().refund(user_id, job_id)


@dataclass
class World:
    creator: JobCreator
    jobs: FlakyJobStore
    sessions: RedisSessionStore
    credits: CountingCredits
    quota: RedisDailyQuota
    events: RecordingEvents
    acked: list[str] = field(default_factory=list)

    async def acknowledge(self, job: Job) -> int:
        assert (await self.jobs.get(job.id)).status is JobStatus.QUEUED, "acknowledged only once stored"
        assert (NEW_JOB, job.id) not in self.events.published, "acknowledged before it is announced"
        self.acked.append(job.id)
        return 777

    async def create(self, prompt: str = "a fox in the snow", user_id: int = ALICE, **kw: object) -> object:
        request = JobRequest(user_id=user_id, chat_id=user_id, prompt=prompt, model="veo3_fast", **kw)  # type: ignore[arg-type]
        return await self.creator.create(request, self.acknowledge)

    async def used_today(self, user_id: int = ALICE) -> int:
        return await self.quota.used(user_id, NOON)


@pytest.fixture
def world(fake_redis: aioredis.Redis) -> World:
    jobs = FlakyJobStore(fake_redis, history_ttl_s=3600)
    sessions = RedisSessionStore(fake_redis)
    credits = CountingCredits(fake_redis, initial_balance=BALANCE)
    quota = RedisDailyQuota(fake_redis)
    events = RecordingEvents()
    rules = CreationRules(
        max_prompt_chars=100, max_active_per_user=2, daily_videos_per_user=3, unlimited_user_ids=frozenset({ADMIN})
    )
    creator = JobCreator(
        jobs=jobs,
        sessions=sessions,
        events=events,
        models=Models(),
        rules=rules,
        credits=credits,
        prices=Prices(),
        quota=quota,
        clock=lambda: NOON,
    )
    return World(creator, jobs, sessions, credits, quota, events)


async def test_a_job_is_charged_counted_stored_acknowledged_then_announced(world: World) -> None:
    outcome = await world.create()

    assert isinstance(outcome, Created)
    job = outcome.job
    assert world.acked == [job.id]
    assert world.events.published == [(NEW_JOB, job.id)]
    stored = await world.jobs.get(job.id)
    assert (stored.cost, stored.billing_state, stored.prompt) == (10, "reserved", "a fox in the snow")
    session = await world.sessions.get(job.id)
    assert session is not None
    assert session.status_message_id == 777
    assert await world.credits.balance(ALICE) == BALANCE - 10
    assert await world.used_today() == 1


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("Connection reset by peer"),
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"),
    ],
    ids=["connection", "response", "encode"],
)
async def test_a_job_that_cannot_be_stored_gives_back_its_credits_and_allowance_once(
    world: World, error: BaseException
) -> None:
    world.jobs.error = error

    outcome = await world.create()

    assert outcome == NotStored()
    assert await world.credits.balance(ALICE) == BALANCE
    assert world.credits.refunds == 1
    assert await world.used_today() == 0
    assert world.acked == []
    assert world.events.published == []
    assert await world.jobs.jobs_for_user(ALICE) == []


async def test_an_unencodable_session_is_never_stored_and_nothing_stays_reserved(world: World) -> None:
    # A forged update's language code reaches the session: the real store fails to encode it after the reserve.
    outcome = await world.create(language="\udcff")

    assert outcome == NotStored()
    assert await world.credits.balance(ALICE) == BALANCE
    assert await world.used_today() == 0


async def test_a_create_whose_reply_was_lost_is_created_and_kept_charged(world: World) -> None:
    world.jobs.error, world.jobs.after_write = RedisConnectionError("reply lost"), True

    outcome = await world.create()

    assert isinstance(outcome, Created)
    assert world.credits.refunds == 0
    assert await world.credits.balance(ALICE) == BALANCE - 10
    assert world.events.published == [(NEW_JOB, outcome.job.id)]


async def test_over_the_active_limit_the_credits_and_the_allowance_come_back(world: World) -> None:
    assert isinstance(await world.create("one"), Created)
    assert isinstance(await world.create("two"), Created)

    outcome = await world.create("three")

    assert outcome == TooManyInProgress(2)
    assert await world.credits.balance(ALICE) == BALANCE - 20
    assert world.credits.refunds == 1
    assert await world.used_today() == 2


async def test_out_of_credits_gives_the_allowance_back(world: World) -> None:
    await world.credits.grant(ALICE, 5 - BALANCE)

    outcome = await world.create()

    assert outcome == OutOfCredits(balance=5, price=10)
    assert await world.used_today() == 0
    assert world.credits.refunds == 0


async def test_over_the_daily_limit_nothing_is_reserved_and_the_next_utc_midnight_is_named(world: World) -> None:
    for _ in range(3):
        job = await world.create()
        assert isinstance(job, Created)
        await world.jobs.transition(job.job.id, JobStatus.CANCELLED)  # out of the way of the active limit
    balance = await world.credits.balance(ALICE)

    outcome = await world.create()

    midnight = dt.datetime(2025, 3, 15, tzinfo=dt.UTC).timestamp()
    assert outcome == DailyLimitReached(limit=3, resets_at=midnight)
    assert await world.credits.balance(ALICE) == balance
    assert world.credits.refunds == 0
    assert len(await world.jobs.jobs_for_user(ALICE)) == 3


async def test_admins_have_no_daily_limit(world: World) -> None:
    for _ in range(5):
        outcome = await world.create(user_id=ADMIN)
        assert isinstance(outcome, Created)
        await world.jobs.transition(outcome.job.id, JobStatus.CANCELLED)

    assert await world.used_today(ADMIN) == 0


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("", PromptKind.EMPTY),
        ("x" * 101, PromptKind.TOO_LONG),
        ("a fox\x07", PromptKind.CONTROL_CHARS),
        ("a fox \udcff", PromptKind.NOT_TEXT),
        ("a fox \ufdd0", PromptKind.NOT_TEXT),
        ("a fox \U0010ffff", PromptKind.NOT_TEXT),
    ],
)
async def test_a_bad_prompt_is_refused_before_anything_is_held(world: World, prompt: str, kind: PromptKind) -> None:
    outcome = await world.create(prompt)

    assert isinstance(outcome, BadPrompt)
    assert outcome.problem.kind is kind
    assert await world.credits.state(ALICE, "any") is None
    assert await world.used_today() == 0


async def test_an_unknown_model_holds_nothing(world: World) -> None:
    request = JobRequest(user_id=ALICE, chat_id=ALICE, prompt="a fox", model="no-such-model")

    assert await world.creator.create(request, world.acknowledge) == UnknownModel("no-such-model")
    assert await world.used_today() == 0


async def test_a_model_that_is_not_enabled_is_refused_and_holds_nothing(world: World) -> None:
    request = JobRequest(user_id=ALICE, chat_id=ALICE, prompt="a fox", model="veo3_lite")

    assert await world.creator.create(request, world.acknowledge) == ModelNotOffered("veo3_lite")
    assert await world.used_today() == 0
    assert world.acked == []


async def test_an_extension_takes_its_parents_model_and_options_and_only_its_owner_may_ask(world: World) -> None:
    parent = await world.create()
    assert isinstance(parent, Created)

    mine = await world.create("and then", extends=parent.job.id)
    theirs = await world.create("and then", user_id=BOB, extends=parent.job.id)
    gone = await world.create("and then", extends="Expired1234")

    assert isinstance(mine, Created)
    assert (mine.job.parent_id, mine.job.model, mine.job.options) == (parent.job.id, "veo3_fast", JobOptions())
    session = await world.sessions.get(mine.job.id)
    assert session is not None
    assert dict(session.settings) == {"extends": parent.job.id}
    assert theirs == VideoNotYours(parent.job.id)
    assert gone == ParentGone("Expired1234")


@pytest.mark.parametrize(("kind", "price"), [(TaskKind.UPSCALE_1080P, 3), (TaskKind.UPSCALE_4K, 15)])
async def test_an_upscale_keeps_its_parents_prompt_and_options_and_is_priced_as_an_upgrade(
    world: World, kind: TaskKind, price: int
) -> None:
    parent = await world.create()
    assert isinstance(parent, Created)

    # No prompt of its own: even an empty one (never checked) becomes the parent's.
    child = await world.create("", extends=parent.job.id, kind=kind)

    assert isinstance(child, Created)
    job = await world.jobs.get(child.job.id)
    assert (job.kind, job.parent_id, job.model, job.prompt) == (kind, parent.job.id, "veo3_fast", "a fox in the snow")
    assert (job.cost, job.billing_state) == (price, "reserved")
    assert await world.credits.balance(ALICE) == BALANCE - 10 - price


async def test_an_upscale_of_someone_elses_video_is_refused_and_holds_nothing(world: World) -> None:
    parent = await world.create()
    assert isinstance(parent, Created)

    theirs = await world.create("", user_id=BOB, extends=parent.job.id, kind=TaskKind.UPSCALE_4K)

    assert theirs == VideoNotYours(parent.job.id)
    assert await world.credits.balance(BOB) == BALANCE
    assert await world.used_today(BOB) == 0


def test_a_child_kind_needs_a_parent_and_a_new_video_has_none() -> None:
    with pytest.raises(ValueError, match="names its parent"):
        JobRequest(user_id=ALICE, chat_id=ALICE, prompt="", kind=TaskKind.UPSCALE_1080P)
    with pytest.raises(ValueError, match="names its parent"):
        JobRequest(user_id=ALICE, chat_id=ALICE, prompt="x", extends="Parent12345", kind=TaskKind.GENERATE)
    plain = JobRequest(user_id=ALICE, chat_id=ALICE, prompt="x", extends="Parent12345")
    assert plain.child_kind is TaskKind.EXTEND


async def test_a_create_cancelled_mid_way_leaves_nothing_reserved(world: World) -> None:
    world.jobs.hold = asyncio.Event()  # never set: the create waits inside the store
    task = asyncio.create_task(world.create())
    async with asyncio.timeout(5):
        while await world.credits.balance(ALICE) == BALANCE:  # noqa: ASYNC110 - a Redis state, not an event
            await asyncio.sleep(0.01)
    assert await world.used_today() == 1

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await world.credits.balance(ALICE) == BALANCE
    assert await world.used_today() == 0


async def test_a_failed_acknowledgement_still_announces_the_stored_job_and_raises_nothing(world: World) -> None:
    async def failing_ack(job: Job) -> int:
        raise ConnectionResetError("Telegram went away")

    request = JobRequest(user_id=ALICE, chat_id=ALICE, prompt="a fox", model="veo3_fast")
    outcome = await world.creator.create(request, failing_ack)

    assert isinstance(outcome, Created)
    assert world.events.published == [(NEW_JOB, outcome.job.id)]
    assert world.credits.refunds == 0


async def test_a_photo_for_a_model_that_takes_none_is_refused_and_holds_nothing(world: World) -> None:
    photo = JobOptions(image_source="telegram:A")
    request = JobRequest(user_id=ALICE, chat_id=ALICE, prompt="a fox", model="veo3", options=photo)

    outcome = await world.creator.create(request, world.acknowledge)

    assert outcome == TakesNoPhoto("veo3")
    assert await world.credits.balance(ALICE) == BALANCE
    assert await world.used_today() == 0


async def test_a_last_frame_is_dropped_where_the_model_takes_only_a_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(Models.FRAMES, "veo3", 1)
    monkeypatch.setitem(PRICES, "veo3", {8: 30})
    album = JobOptions(image_source="telegram:A", last_image_source="telegram:B")
    both = JobRequest(user_id=ALICE, chat_id=ALICE, prompt="a fox", model="veo3_fast", options=album)
    first_only = JobRequest(user_id=BOB, chat_id=BOB, prompt="a fox", model="veo3", options=album)

    kept = await world.creator.create(both, world.acknowledge)
    dropped = await world.creator.create(first_only, world.acknowledge)

    assert isinstance(kept, Created)
    assert isinstance(dropped, Created)
    assert (await world.jobs.get(kept.job.id)).options.last_image_source == "telegram:B"
    stored = (await world.jobs.get(dropped.job.id)).options
    assert (stored.image_source, stored.last_image_source) == ("telegram:A", None)
