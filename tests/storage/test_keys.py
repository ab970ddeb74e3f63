"""The Redis key layout: one builder, configurable prefix, per-job keys in one cluster slot."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from storage.keys import RedisKeys, redis_key


def test_keys_use_the_prefix_and_the_documented_layout() -> None:
    keys = RedisKeys("rl")
    assert keys.job("abc") == "rl:job:{abc}"
    assert keys.session("abc") == "rl:job:{abc}:session"
    assert keys.effects("abc") == "rl:job:{abc}:effects"
    assert keys.active_jobs() == "rl:jobs:active"
    assert keys.delayed_jobs() == "rl:jobs:delayed"
    assert keys.user_jobs(42) == "rl:user:42:jobs"
    assert keys.ptb("user_data") == "rl:ptb:user_data"
    assert keys.ptb_conversation("settings") == "rl:ptb:conversation:settings"
    assert redis_key("rl", "a", "b") == "rl:a:b"


def test_default_prefix_is_reelay() -> None:
    assert RedisKeys().job("x") == "reelay:job:{x}"


def test_every_per_job_key_hashes_to_the_same_cluster_slot() -> None:
    keys = RedisKeys()
    slots = {key_slot(k.encode()) for k in (keys.job("Ab_9-x"), keys.session("Ab_9-x"), keys.effects("Ab_9-x"))}
    assert len(slots) == 1


@pytest.mark.parametrize("bad", ["", "a{b", "a}b"])
def test_job_ids_that_would_break_the_hash_tag_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="job id"):
        RedisKeys().job(bad)
