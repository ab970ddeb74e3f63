"""The jobs list's filters, read from the query string: status, model, user id, holding process and time range.

A value that cannot be used is left out of the filter and named on the page, never answered with an error page.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from poller.jobs import Job, JobStatus

_STATUSES = {status.value: status for status in JobStatus}
_MINUTE = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?")
MAX_TEXT = 200  # longest model or process id accepted in a filter


@dataclass(frozen=True)
class JobFilter:
    """What the operator asked the jobs list to show."""

    status: JobStatus | None = None
    model: str | None = None
    user_id: int | None = None
    owner: str | None = None
    since: float | None = None
    until: float | None = None
    problems: list[str] = field(default_factory=list)  # parts of the query that were left out, and why

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> JobFilter:
        """The filter in ``params`` (``status``, ``model``, ``user``, ``owner``, ``from``, ``to``; times in UTC)."""
        problems: list[str] = []
        status_text = params.get("status", "").strip()
        status = _STATUSES.get(status_text)
        if status_text and status is None:
            problems.append("status: not a job state")
        user_text = params.get("user", "").strip()
        user_id = int(user_text) if re.fullmatch(r"-?\d{1,19}", user_text) else None
        if user_text and user_id is None:
            problems.append("user: not a user id")
        return cls(
            status=status,
            model=_text(params, "model", problems),
            user_id=user_id,
            owner=_text(params, "owner", problems),
            since=_utc_minute(params, "from", problems),
            until=_utc_minute(params, "to", problems),
            problems=problems,
        )

    def keep(self, job: Job) -> bool:
        """Whether ``job`` matches (the time range is applied by the listing, which also picks the hours)."""
        return (
            (self.status is None or job.status is self.status)
            and (self.model is None or job.model == self.model)
            and (self.user_id is None or job.user_id == self.user_id)
            and (self.owner is None or job.owner == self.owner)
        )

    def matches(self, job: Job) -> bool:
        """Whether ``job`` matches, its creation time included (for jobs that did not come through the listing)."""
        if self.since is not None and job.created_at < self.since:
            return False
        return (self.until is None or job.created_at < self.until) and self.keep(job)

    @property
    def narrows(self) -> bool:
        """Whether any filter is set."""
        return any(v is not None for v in (self.status, self.model, self.user_id, self.owner, self.since, self.until))

    def params(self) -> dict[str, str]:
        """The filter as query parameters (for the next page's link and the live feed)."""
        values = {
            "status": self.status.value if self.status else None,
            "model": self.model,
            "user": str(self.user_id) if self.user_id is not None else None,
            "owner": self.owner,
            "from": _minute_text(self.since),
            "to": _minute_text(self.until),
        }
        return {name: value for name, value in values.items() if value}

    def query(self, **extra: str | None) -> str:
        """The filter and ``extra`` as a query string (without ``?``)."""
        params = self.params() | {name: value for name, value in extra.items() if value}
        return urlencode(params)


def _text(params: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    value = params.get(name, "").strip()
    if len(value) > MAX_TEXT:
        problems.append(f"{name}: longer than {MAX_TEXT} characters")
        return None
    return value or None


def _utc_minute(params: Mapping[str, str], name: str, problems: list[str]) -> float | None:
    """``2025-01-31T12:00`` (what a datetime-local field sends) as Unix time, read as UTC."""
    value = params.get(name, "").strip()
    if not value:
        return None
    match = _MINUTE.fullmatch(value)
    if match is None:
        problems.append(f"{name}: not a time (YYYY-MM-DD HH:MM, UTC)")
        return None
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        time.strptime(f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        problems.append(f"{name}: not a time (YYYY-MM-DD HH:MM, UTC)")
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second)))


def _minute_text(unix_time: float | None) -> str | None:
    return None if unix_time is None else time.strftime("%Y-%m-%dT%H:%M", time.gmtime(unix_time))
