"""What makes the cluster runs of the storage tests meaningful, and cluster-only checks.

The local cluster really spreads the keys a job touches over several nodes, and it refuses a
script whose keys span slots: so every store test that passes on it touches one slot per script.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot
from redis.exceptions import ResponseError

from storage.keys import RedisKeys
from storage.ptb_persistence import RedisPersistence
from storage.redis_jobs import RedisJobStore
from tests.fixtures.redis_cluster import RedisClusterNodes

pytestmark = pytest.mark.integration
KEYS = RedisKeys()


def node_of(client: aioredis.RedisCluster, key: str) -> str:
    node = client.get_node_from_key(key)
    assert node is not None
    return node.name


async def test_the_cluster_has_three_primaries_serving_every_slot(
    redis_cluster_client: aioredis.RedisCluster,
) -> None:
    assert len(redis_cluster_client.get_primaries()) == 3
    info = await redis_cluster_client.cluster_info()
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_slots_assigned"]) == 16384


async def test_job_keys_and_the_indexes_live_on_different_nodes(redis_cluster_client: aioredis.RedisCluster) -> None:
    index_node = node_of(redis_cluster_client, KEYS.active_jobs())
    job_nodes = {node_of(redis_cluster_client, KEYS.job(f"job-{n}")) for n in range(30)}
    assert len(job_nodes) == 3
    assert job_nodes - {index_node}


def test_one_jobs_keys_share_a_slot_and_the_indexes_do_not() -> None:
    job_slots = {key_slot(k.encode()) for k in (KEYS.job("a1"), KEYS.session("a1"), KEYS.effects("a1"))}
    index_slots = {key_slot(k.encode()) for k in (KEYS.active_jobs(), KEYS.delayed_jobs())}
    assert len(job_slots) == 1
    assert job_slots.isdisjoint(index_slots)


async def test_the_cluster_refuses_a_script_over_two_slots(redis_cluster_client: aioredis.RedisCluster) -> None:
    # What the issue-2 transition script did (job and index in one script) fails here. Two keys
    # on one node but in different slots, sent to that node directly (redis-py's cluster client
    # would refuse before sending): the node holds both and still refuses.
    job_key = KEYS.job("x")
    other = next(
        KEYS.job(f"y{n}")
        for n in range(100)
        if node_of(redis_cluster_client, KEYS.job(f"y{n}")) == node_of(redis_cluster_client, job_key)
        and key_slot(KEYS.job(f"y{n}").encode()) != key_slot(job_key.encode())
    )
    host, port = node_of(redis_cluster_client, job_key).split(":")
    node = aioredis.Redis(host=host, port=int(port), decode_responses=True)
    try:
        with pytest.raises(ResponseError, match="same slot"):
            await node.eval("return redis.call('EXISTS', KEYS[1], KEYS[2])", 2, job_key, other)
    finally:
        await node.aclose()


async def test_stores_accept_a_text_cluster_client_and_refuse_a_bytes_one(redis_cluster: RedisClusterNodes) -> None:
    host, port = redis_cluster.startup_nodes[0]
    text = aioredis.RedisCluster(host=host, port=port, decode_responses=True)
    raw = aioredis.RedisCluster(host=host, port=port)
    try:
        RedisJobStore(text)
        with pytest.raises(ValueError, match="decode_responses"):
            RedisJobStore(raw)
    finally:
        await text.aclose()
        await raw.aclose()


async def test_ptb_persistence_works_on_the_cluster(redis_cluster_client: aioredis.RedisCluster) -> None:
    persistence = RedisPersistence(redis_cluster_client)
    await persistence.update_user_data(1, {"model": "veo3"})
    await persistence.update_chat_data(2, {"lang": "en"})
    await persistence.update_bot_data({"started": 1})
    await persistence.update_conversation("settings", (2, 1), "choosing")

    fresh = RedisPersistence(redis_cluster_client)
    assert await fresh.get_user_data() == {1: {"model": "veo3"}}
    assert await fresh.get_chat_data() == {2: {"lang": "en"}}
    assert await fresh.get_bot_data() == {"started": 1}
    assert await fresh.get_conversations("settings") == {(2, 1): "choosing"}
