"""The 1080p and 4K buttons under a delivered Veo video: each starts one child job, once per video.

Reached from :class:`bot.handlers.buttons.ButtonHandlers`, which has already checked the data, the job and the
owner. The press claims the upgrade on the video's job before anything else, so a double tap, a second bot process
or a stale keyboard cannot start it twice; the claim is given back when no child job was created (out of credits,
too many in progress), so the user can try again later.
"""

from __future__ import annotations

import contextlib

import structlog
from telegram import CallbackQuery, ReplyParameters
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import keyboards, texts
from bot.handlers.generate import refusal_text
from bot.i18n import Translator
from bot.services import Services
from bot.upgrades import UPGRADE_EFFECTS, current_preview, upgrades_offered
from poller.create_job import Created, JobRequest
from poller.jobs import Job, JobStatus, TaskKind

log = structlog.get_logger(__name__)


class UpgradePress:
    """Turns a press of 1080p or 4K into a child job of the pressed video."""

    def __init__(self, services: Services) -> None:
        self._s = services

    @property
    def _offer(self) -> bool:
        return self._s.settings.providers.kie.offer_upgrades

    async def press(
        self, tr: Translator, query: CallbackQuery, job: Job, kind: TaskKind, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """Start the upgrade ``kind`` of ``job``'s video (its owner pressed), or say why not."""
        if kind not in upgrades_offered(job, enabled=self._offer):
            await query.answer(tr(texts.BUTTON_EXPIRED))  # not a button we show under this video
            return
        if job.status is not JobStatus.SUCCEEDED:
            await query.answer(tr(texts.NOT_READY))
            return
        effect = UPGRADE_EFFECTS[kind]
        if not await self._s.jobs.claim(job.id, effect):
            await query.answer(tr(texts.BUTTON_EXPIRED))  # asked for already: once per video
            await self._mark(tr, query, job)
            return
        try:
            created = await self._start(tr, query, job, kind, context)
        except BaseException:
            # Cut short (an error, a shutdown): give the claim back only if the child job surely does not exist,
            # or a second press could charge for the same upgrade twice.
            if not await self._child_may_exist(job, kind):
                await self._s.jobs.release(job.id, effect)
            raise
        if not created:
            await self._s.jobs.release(job.id, effect)
            return
        await self._mark(tr, query, job)

    async def _start(
        self, tr: Translator, query: CallbackQuery, job: Job, kind: TaskKind, context: ContextTypes.DEFAULT_TYPE
    ) -> bool:
        chat_id = query.message.chat.id if query.message else job.chat_id
        # The ack answers the video it upgrades (sent anyway if the user deleted it meanwhile).
        reply_to = (
            ReplyParameters(query.message.message_id, allow_sending_without_reply=True) if query.message else None
        )
        request = JobRequest(
            user_id=job.user_id,
            chat_id=chat_id,
            prompt=job.prompt,
            extends=job.id,
            kind=kind,
            language=tr.language,
        )

        async def acknowledge(child: Job) -> int:
            ack = await context.bot.send_message(
                chat_id, tr(texts.GENERATING), reply_markup=keyboards.status(tr, child.id), reply_parameters=reply_to
            )
            return ack.message_id

        outcome = await self._s.creator.create(request, acknowledge)
        if not isinstance(outcome, Created):
            await query.answer(refusal_text(tr, outcome), show_alert=True)
            return False
        await query.answer()
        log.info("job.upgrade_asked", job_id=job.id, child_id=outcome.job.id, kind=kind.value)
        return True

    async def _child_may_exist(self, job: Job, kind: TaskKind) -> bool:
        try:
            recent = await self._s.jobs.jobs_for_user(job.user_id, limit=10)
        except Exception:
            return True  # unknown: keep the claim
        return any(child.parent_id == job.id and child.kind is kind for child in recent)

    async def _mark(self, tr: Translator, query: CallbackQuery, job: Job) -> None:
        markup = await current_preview(tr, self._s.jobs, job, offer_upgrades=self._offer, published=job.published)
        with contextlib.suppress(TelegramError):  # already marked ("message is not modified")
            await query.edit_message_reply_markup(markup)
