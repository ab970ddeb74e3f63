"""Adapters for storage: Redis job/session stores, PTB persistence, blob stores, media probing."""

from storage.blobs_local import LocalBlobStore
from storage.blobs_s3 import S3BlobStore
from storage.keys import RedisKeys
from storage.probe import PyAvProbe
from storage.ptb_persistence import NotJSONSerializable, RedisPersistence
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore

__all__ = [
    "LocalBlobStore",
    "NotJSONSerializable",
    "PyAvProbe",
    "RedisJobStore",
    "RedisKeys",
    "RedisPersistence",
    "RedisSessionStore",
    "S3BlobStore",
]
