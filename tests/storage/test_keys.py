"""The Redis key layout: one builder, configurable prefix, per-job keys in one cluster slot."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from storage.keys import MAX_PART_LENGTH, InvalidKeyPart, RedisKeys, redis_key


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


def test_keys_of_the_shared_registries_follow_the_documented_layout() -> None:
    keys = RedisKeys("rl")
    assert keys.process("host-1:42") == "rl:proc:host-1%3A42"
    assert keys.processes() == "rl:procs"
    assert keys.events() == "rl:events"
    assert keys.callback_token("Ab_9-x") == "rl:cb:Ab_9-x"
    assert keys.external_session("12345") == "rl:ext-session:12345"
    assert keys.task("kie_veo", "abc") == "rl:task:kie_veo:abc"
    assert keys.telegram_update(77) == "rl:tg-update:77"
    assert keys.late_checks() == "rl:late-checks"


@pytest.mark.parametrize("outside", ["{x}", "a}b{c", "{", "}"])
def test_braces_from_outside_never_pick_the_cluster_slot(outside: str) -> None:
    key = RedisKeys().external_session(outside)
    assert "{" not in key
    assert "}" not in key


def test_escaping_keeps_different_values_apart() -> None:
    keys = RedisKeys()
    assert keys.task("a:b", "c") != keys.task("a", "b:c")
    assert keys.external_session("a%7B") != keys.external_session("a{")


@pytest.mark.parametrize("bad", ["", "x" * (MAX_PART_LENGTH + 1)])
def test_empty_or_overlong_outside_values_are_refused(bad: str) -> None:
    with pytest.raises(InvalidKeyPart):
        RedisKeys().external_session(bad)
    with pytest.raises(InvalidKeyPart):
        RedisKeys().task("kie_veo", bad)


def test_invalid_key_part_is_a_value_error() -> None:
    assert issubclass(InvalidKeyPart, ValueError)


def test_a_job_key_is_its_head_the_id_and_a_closing_brace() -> None:
    # What the one-node create script relies on to read the jobs it finds in a user's index.
    for keys in (RedisKeys(), RedisKeys("tenant-a")):
        assert keys.job_key_head() + "abc123" + "}" == keys.job("abc123")


def test_api_key_and_outbox_keys_share_their_slots_and_refuse_anything_but_a_digest() -> None:
    from redis.crc import key_slot

    keys = RedisKeys("p")
    digest = "ab" * 32
    assert keys.api_key(digest) == f"p:{{apikeys}}:key:{digest}"
    assert key_slot(keys.api_key(digest).encode()) == key_slot(keys.api_key_names().encode())
    outbox = [keys.outbox_event("msg_a{b}"), keys.outbox_due(), keys.outbox_dead(), keys.outbox_disabled()]
    assert len({key_slot(key.encode()) for key in [*outbox, keys.outbox_counts()]}) == 1
    assert keys.outbox_event("msg_a{b}") == "p:{outbox}:event:msg_a%7Bb%7D"
    for bad in ("AB" * 32, "ab" * 31, "rk_" + "a" * 61, "zz" * 32):
        with pytest.raises(InvalidKeyPart):
            keys.api_key(bad)
        with pytest.raises(InvalidKeyPart):
            keys.api_rate(bad)
