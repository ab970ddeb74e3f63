"""Every Redis key Reelay uses, built in one place.

Layout (prefix ``reelay`` by default)::

    reelay:job:{<id>}               hash: the job (poller.jobs.Job.to_fields)
    reelay:job:{<id>}:session       hash: the user's session while the job runs
    reelay:job:{<id>}:effects       hash: one-time side effects claimed (send, publish, refund…)
    reelay:jobs:active              zset: ids of non-terminal jobs, scored by the job's revision (≈ ms)
    reelay:jobs:delayed             zset: ids of delayed jobs, scored by the time they became delayed
    reelay:user:<user_id>:jobs      zset: a user's recent job ids, scored by creation time (trimmed)
    reelay:ptb:<kind>               python-telegram-bot persistence (user_data, chat_data, …)
    reelay:ptb:conversation:<name>  hash: one ConversationHandler's states
    reelay:proc:<process_id>        string with a TTL: the process's heartbeat (the truth), with what it reports
    reelay:procs                    zset: process ids scored by heartbeat expiry in ms (advisory)
    reelay:events                   stream: notices between processes (new job, poll now…)
    reelay:cb:<token>               string: the job id a provider callback token belongs to
    reelay:ext-session:<id>         string: the chat id an external session id maps to
    reelay:task:<provider>:<task>   string: the job id bound to a provider task
    reelay:tg-update:<update_id>    string: marks a Telegram update as seen (redelivery)
    reelay:late-checks              zset: timed-out job ids scored by the due time of their next check
    reelay:jobs:counts              hash: jobs in each non-terminal status (on a cluster also c:<id> -> rev|status)
    reelay:jobs:ended               zset: the ended-jobs outbox (job id -> when it ended), drained by the analytics
    reelay:jobs:hour:<YYYYMMDDHH>   list: ids of the jobs created in that UTC hour (newest-first listings)
    reelay:stats:{<model>:<hour>}   hash: one model's analytics for one UTC hour (storage.analytics)
    reelay:stats:{<model>:<hour>}:seen  set: the jobs already counted in it (a job is counted once)
    reelay:stats:models             set: every model with analytics
    reelay:daily:{u<user_id>}:<day> string with a TTL: videos the user started on that UTC day (YYYYMMDD)
    reelay:access:admitted          set: user ids admitted by an invite code (access.mode = "invite")
    reelay:console:failed:<address> string with a TTL: wrong console sign-in tokens from one address this minute
    reelay:photo:{u<user_id>}:<token>  string with a TTL: a photo waiting for its description (one user's only)
    reelay:album:{<chat>:<group>}   list with a TTL: an album's photos as their updates arrive
    reelay:album:{<chat>:<group>}:claim  string with a TTL: the process that makes the album's one job
    reelay:{apikeys}:key:<sha256>   hash: one API key's record, found by the SHA-256 of the key (never the key)
    reelay:{apikeys}:names          hash: API key name -> the SHA-256 it belongs to (names are unique)
    reelay:apijobs:<key name>       zset: one API key's job ids, scored by creation time (ms), for GET /v1/jobs
    reelay:idem:<key name>:<idem>   string, 24 h: ``<body sha256>|<job id>`` of one Idempotency-Key
    reelay:rate:api:<sha256>        string with a TTL: one API key's request budget (GCRA theoretical arrival, ms)
    reelay:{outbox}:event:<id>      hash: one webhook event waiting, being sent, or dead (storage.webhook_outbox)
    reelay:{outbox}:due             zset: waiting event ids scored by when each is due (ms)
    reelay:{outbox}:dead            zset: dead-lettered event ids scored by when they died (ms)
    reelay:{outbox}:disabled        hash: endpoint -> when it answered 410 (its events are no longer sent)
    reelay:{outbox}:counts          hash: events delivered, dead-lettered, skipped (a disabled endpoint's)

Redis Cluster: the ``{<id>}`` hash tag keeps every per-job key in one slot, so the job scripts
(which touch only one job's keys) run on a cluster. Every other operation touches one key. The
indexes live in their own slots and are kept in a separate, idempotent step (see ``redis_jobs``).

Parts that come from outside (session ids, task ids, tokens) are percent-escaped: a ``{`` could
otherwise pick the cluster slot (and pile every such key onto one node), a ``:`` could make two
keys collide. Parts longer than :data:`MAX_PART_LENGTH` are refused with :class:`InvalidKeyPart`.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from urllib.parse import quote

DEFAULT_PREFIX = "reelay"
MAX_PART_LENGTH = 200


class InvalidKeyPart(ValueError):
    """A value that cannot become part of a Redis key (empty, or longer than 200 characters)."""


def redis_key(prefix: str, *parts: str) -> str:
    """Join a prefix and parts into one key (``reelay:job:{abc}``): the only key builder."""
    return ":".join((prefix, *parts))


def _hash_tag(job_id: str) -> str:
    # A brace inside the id would move the hash tag and split one job's keys over slots.
    if not job_id or "{" in job_id or "}" in job_id:
        raise ValueError(f"invalid job id for a Redis key: {job_id!r}")
    return "{" + job_id + "}"


def _escaped(value: str, what: str) -> str:
    # quote(safe="") leaves only [A-Za-z0-9_.~-]: no brace (hash tag), no colon (collisions), and
    # the mapping is one-to-one, so two different values never share a key.
    if not value or len(value) > MAX_PART_LENGTH:
        raise InvalidKeyPart(f"{what} must be 1 to {MAX_PART_LENGTH} characters long")
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The keys under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def job(self, job_id: str) -> str:
        """The job hash."""
        return redis_key(self.prefix, "job", _hash_tag(job_id))

    def job_key_head(self) -> str:
        """What comes before a job id in its key (``reelay:job:{``; ``}`` follows): for a one-node script that
        reads jobs it finds in an index (a cluster script may only touch the keys it is given)."""
        return self.job("_")[: -len("_}")]

    def session(self, job_id: str) -> str:
        """The session hash stored under the job."""
        return redis_key(self.prefix, "job", _hash_tag(job_id), "session")

    def effects(self, job_id: str) -> str:
        """The hash of claimed one-time side effects of a job."""
        return redis_key(self.prefix, "job", _hash_tag(job_id), "effects")

    def active_jobs(self) -> str:
        """Index of non-terminal job ids (zset scored by the revision that wrote the entry)."""
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

    def process(self, process_id: str) -> str:
        """A process's heartbeat key (exists while the process is alive)."""
        return redis_key(self.prefix, "proc", _escaped(process_id, "process id"))

    def processes(self) -> str:
        """Zset of process ids scored by heartbeat expiry (ms)."""
        return redis_key(self.prefix, "procs")

    def events(self) -> str:
        """The stream of notices between processes."""
        return redis_key(self.prefix, "events")

    def callback_token(self, token: str) -> str:
        """The job id behind a provider callback token."""
        return redis_key(self.prefix, "cb", _escaped(token, "callback token"))

    def external_session(self, session_id: str) -> str:
        """The chat id behind an external session id."""
        return redis_key(self.prefix, "ext-session", _escaped(session_id, "session id"))

    def task(self, provider: str, task_id: str) -> str:
        """The job id bound to a provider's task."""
        return redis_key(self.prefix, "task", _escaped(provider, "provider"), _escaped(task_id, "task id"))

    def telegram_update(self, update_id: int) -> str:
        """Marks a Telegram update as seen."""
        return redis_key(self.prefix, "tg-update", str(update_id))

    def late_checks(self) -> str:
        """Zset of timed-out job ids scored by when their next late check is due."""
        return redis_key(self.prefix, "late-checks")

    def job_counts(self) -> str:
        """Hash of how many jobs are in each non-terminal status."""
        return redis_key(self.prefix, "jobs", "counts")

    def ended_jobs(self) -> str:
        """Zset of jobs that ended and are not yet in the analytics (the outbox), scored by when they ended."""
        return redis_key(self.prefix, "jobs", "ended")

    def jobs_created_in(self, hour: int) -> str:
        """List of the ids of the jobs created in a UTC hour (``hour``: :func:`hour_of`, YYYYMMDDHH)."""
        return redis_key(self.prefix, "jobs", "hour", str(hour))

    def stats(self, model: str, hour: int) -> str:
        """One model's analytics for one UTC hour (its own hash tag, so it and its seen-set share a slot)."""
        return redis_key(self.prefix, "stats", "{" + _escaped(model, "model") + ":" + str(hour) + "}")

    def stats_seen(self, model: str, hour: int) -> str:
        """The ids of the jobs counted in :meth:`stats` (a job is counted once)."""
        return self.stats(model, hour) + ":seen"

    def stats_models(self) -> str:
        """Every model that has analytics."""
        return redis_key(self.prefix, "stats", "models")

    def daily_videos(self, user_id: int, day: str) -> str:
        """The count of videos a user started on one UTC day (``day``: ``YYYYMMDD``)."""
        if not (len(day) == 8 and day.isdigit()):
            raise ValueError(f"a day is YYYYMMDD, got {day!r}")
        return redis_key(self.prefix, "daily", "{u" + str(int(user_id)) + "}", day)

    def admitted_users(self) -> str:
        """The set of user ids an invite code admitted."""
        return redis_key(self.prefix, "access", "admitted")

    def console_sign_in_failures(self, address: str) -> str:
        """The count of wrong console sign-in tokens from one client address (its TTL is the lockout window)."""
        return redis_key(self.prefix, "console", "failed", _escaped(address, "client address"))

    def pending_photo(self, user_id: int, token: str) -> str:
        """A photo waiting for its description: keyed by the user, so nobody else's reply can take it."""
        return redis_key(self.prefix, "photo", "{u" + str(int(user_id)) + "}", _escaped(token, "photo token"))

    def album(self, chat_id: int, media_group_id: str) -> str:
        """The photos of one album as they arrive (one hash tag with its claim)."""
        group = _escaped(media_group_id, "media group id")
        return redis_key(self.prefix, "album", "{" + str(int(chat_id)) + ":" + group + "}")

    def album_claim(self, chat_id: int, media_group_id: str) -> str:
        """Who makes the album's job (the first to set it)."""
        return self.album(chat_id, media_group_id) + ":claim"

    def api_key(self, digest: str) -> str:
        """One API key's record, by the hex SHA-256 of the key (all API keys share the ``{apikeys}`` slot)."""
        return redis_key(self.prefix, "{apikeys}", "key", _hex_digest(digest))

    def api_key_names(self) -> str:
        """API key name -> the SHA-256 it belongs to."""
        return redis_key(self.prefix, "{apikeys}", "names")

    def api_rate(self, digest: str) -> str:
        """One API key's request budget."""
        return redis_key(self.prefix, "rate", "api", _hex_digest(digest))

    def api_jobs(self, key_name: str) -> str:
        """Index of one API key's job ids (zset scored by creation time, ms), by the key's name."""
        return redis_key(self.prefix, "apijobs", _escaped(key_name, "an API key name"))

    def idempotency(self, key_name: str, idempotency_key: str) -> str:
        """What one ``Idempotency-Key`` of one API key made: ``<body sha256>|<job id>``, for 24 hours."""
        return redis_key(
            self.prefix, "idem", _escaped(key_name, "an API key name"), _escaped(idempotency_key, "an Idempotency-Key")
        )

    def outbox_event(self, event_id: str) -> str:
        """One webhook event of the outbox (every outbox key shares the ``{outbox}`` slot, so one script moves an
        event between its states)."""
        return redis_key(self.prefix, "{outbox}", "event", _escaped(event_id, "event id"))

    def outbox_due(self) -> str:
        """Waiting webhook events, scored by when each is due (ms)."""
        return redis_key(self.prefix, "{outbox}", "due")

    def outbox_dead(self) -> str:
        """Dead-lettered webhook events, scored by when they died (ms)."""
        return redis_key(self.prefix, "{outbox}", "dead")

    def outbox_disabled(self) -> str:
        """Endpoints that answered 410 Gone -> when."""
        return redis_key(self.prefix, "{outbox}", "disabled")

    def outbox_counts(self) -> str:
        """How many events were delivered, dead-lettered, skipped."""
        return redis_key(self.prefix, "{outbox}", "counts")


def _hex_digest(digest: str) -> str:
    if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
        raise InvalidKeyPart("an API key digest is 64 lowercase hex characters")
    return digest


def hour_of(unix_time: float) -> int:
    """The UTC hour a moment falls in, as YYYYMMDDHH (an int that sorts and reads as a time)."""
    moment = time.gmtime(unix_time)
    return ((moment.tm_year * 100 + moment.tm_mon) * 100 + moment.tm_mday) * 100 + moment.tm_hour


def hour_start(hour: int) -> float:
    """The Unix time a :func:`hour_of` hour begins."""
    year, rest = divmod(hour, 1_000_000)
    month, rest = divmod(rest, 10_000)
    day, hh = divmod(rest, 100)
    return float(calendar.timegm((year, month, day, hh, 0, 0)))
