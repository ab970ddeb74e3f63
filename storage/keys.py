"""Every Redis key Reelay uses, built in one place.

Layout (prefix ``reelay`` by default)::

    reelay:job:{<id>}               hash: the job (poller.jobs.Job.to_fields)
    reelay:job:{<id>}:session       hash: the user's session while the job runs
    reelay:job:{<id>}:effects       hash: one-time side effects claimed (send, publish, refund…)
    reelay:jobs:active              zset: ids of non-terminal jobs, scored by creation time
    reelay:jobs:delayed             zset: ids of delayed jobs, scored by the time they became delayed
    reelay:user:<user_id>:jobs      zset: a user's recent job ids, scored by creation time (trimmed)
    reelay:ptb:<kind>               python-telegram-bot persistence (user_data, chat_data, …)
    reelay:ptb:conversation:<name>  hash: one ConversationHandler's states

The ``{<id>}`` hash tag keeps every per-job key in one Redis Cluster slot, so scripts that touch
only one job stay valid on a cluster. The indexes live in their own slots; see ``redis_jobs``
for the scripts that touch both.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "reelay"


def redis_key(prefix: str, *parts: str) -> str:
    """Join a prefix and parts into one key (``reelay:job:{abc}``): the only key builder."""
    return ":".join((prefix, *parts))


def _hash_tag(job_id: str) -> str:
    # A brace inside the id would move the hash tag and split one job's keys over slots.
    if not job_id or "{" in job_id or "}" in job_id:
        raise ValueError(f"invalid job id for a Redis key: {job_id!r}")
    return "{" + job_id + "}"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The keys under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def job(self, job_id: str) -> str:
        """The job hash."""
        return redis_key(self.prefix, "job", _hash_tag(job_id))

    def session(self, job_id: str) -> str:
        """The session hash stored under the job."""
        return redis_key(self.prefix, "job", _hash_tag(job_id), "session")

    def effects(self, job_id: str) -> str:
        """The hash of claimed one-time side effects of a job."""
        return redis_key(self.prefix, "job", _hash_tag(job_id), "effects")

    def active_jobs(self) -> str:
        """Index of non-terminal job ids (zset scored by creation time)."""
        return redis_key(self.prefix, "jobs", "active")

    def delayed_jobs(self) -> str:
        """Index of delayed job ids (zset scored by the time they became delayed)."""
        return redis_key(self.prefix, "jobs", "delayed")

    def user_jobs(self, user_id: int) -> str:
        """Index of one user's recent job ids (zset scored by creation time)."""
        return redis_key(self.prefix, "user", str(user_id), "jobs")

    def ptb(self, kind: str) -> str:
        """python-telegram-bot persistence data of one kind (``user_data``, ``bot_data``…)."""
        return redis_key(self.prefix, "ptb", kind)

    def ptb_conversation(self, name: str) -> str:
        """The states of one named ConversationHandler."""
        return redis_key(self.prefix, "ptb", "conversation", name)
