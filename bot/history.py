"""``/history``: a user's delivered videos, newest first, five to a page (the message is edited in place to page).

Pure paging and wording; the handler (:mod:`bot.handlers.history`) reads the jobs and answers the buttons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.callback_data import Action, ButtonData
from bot.i18n import Translator
from bot.preferences import label_of
from poller.jobs import Job, JobStatus

PAGE_SIZE = 5
SCANNED_JOBS = 200  # the newest jobs looked at (older ones have usually expired from Redis: redis.job_ttl_s)
PROMPT_CHARS = 40


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of the history: its text and its buttons."""

    text: str
    markup: InlineKeyboardMarkup | None


def videos(jobs: Sequence[Job]) -> list[Job]:
    """The delivered videos among a user's jobs, newest first."""
    done = [job for job in jobs if job.status is JobStatus.SUCCEEDED and job.delivered_ref]
    return sorted(done, key=lambda job: job.created_at, reverse=True)


def page_of(tr: Translator, delivered: Sequence[Job], page: int) -> HistoryPage:
    """Page ``page`` (0 is the newest; out of range: the nearest that exists)."""
    if not delivered:
        return HistoryPage(tr(texts.HISTORY_EMPTY), None)
    pages = (len(delivered) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    shown = delivered[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [tr(texts.HISTORY_HEADER, page=page + 1, pages=pages)]
    for number, job in enumerate(shown, start=page * PAGE_SIZE + 1):
        day = datetime.fromtimestamp(job.created_at, UTC).strftime("%Y-%m-%d")
        lines.append(tr(texts.HISTORY_LINE, number=number, date=day, model=label_of(job.model), prompt=_start(job)))
    again = [
        InlineKeyboardButton(texts.history_again(number), callback_data=ButtonData(Action.RESEND, job.id).encode())
        for number, job in enumerate(shown, start=page * PAGE_SIZE + 1)
    ]
    rows = [again]
    navigation = []
    if page > 0:
        navigation.append(_nav("«", page - 1))
    if page < pages - 1:
        navigation.append(_nav("»", page + 1))
    if navigation:
        rows.append(navigation)
    return HistoryPage("\n".join(lines), InlineKeyboardMarkup(rows))


def _nav(label: str, page: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=ButtonData(Action.HISTORY, str(page)).encode())


def _start(job: Job) -> str:
    prompt = " ".join(job.prompt.split())
    return prompt if len(prompt) <= PROMPT_CHARS else prompt[: PROMPT_CHARS - 1].rstrip() + "…"
