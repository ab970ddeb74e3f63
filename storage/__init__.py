"""Adapters for storage: Redis job/session stores, leases, events and registries, PTB persistence,
blob stores, media probing."""

from storage.blobs_local import LocalBlobStore
from storage.blobs_s3 import S3BlobStore
from storage.events import RedisEventBus
from storage.keys import InvalidKeyPart, RedisKeys
from storage.leases import RedisLeases
from storage.probe import PyAvProbe
from storage.ptb_persistence import NotJSONSerializable, RedisPersistence
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from storage.redis_support import RedisClient
from storage.registries import CallbackTokens, ExternalSessions, LateChecks, TaskIndex, UpdateDeduplicator

__all__ = [
    "CallbackTokens",
    "ExternalSessions",
    "InvalidKeyPart",
    "LateChecks",
    "LocalBlobStore",
    "NotJSONSerializable",
    "PyAvProbe",
    "RedisClient",
    "RedisEventBus",
    "RedisJobStore",
    "RedisKeys",
    "RedisLeases",
    "RedisPersistence",
    "RedisSessionStore",
    "S3BlobStore",
    "TaskIndex",
    "UpdateDeduplicator",
]
