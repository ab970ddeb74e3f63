"""What a delivered video offers under it: Extend, and the 1080p and 4K upgrades; and its preview keyboard.

An upgrade is offered under a video of a model the catalog calls upscalable (Veo 3.1 Quality and Fast), when the
operator turned ``providers.kie.offer_upgrades`` on. An upgraded video offers neither (KIE cannot extend or upgrade
it again): only Publish. Each upgrade can be asked for once per video: the press claims ``upgrade_<kind>`` on the
video's job, and the claim shows as the button's done mark.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot import keyboards
from bot.i18n import Translator
from poller.jobs import Job, TaskKind
from poller.ports import JobStore
from providers.catalog import known_model

# The one-time claim (JobStore.claim) each upgrade takes on the video's job.
UPGRADE_EFFECTS: dict[TaskKind, str] = {TaskKind.UPSCALE_1080P: "upgrade_1080p", TaskKind.UPSCALE_4K: "upgrade_4k"}


def upgrades_offered(job: Job, *, enabled: bool) -> tuple[TaskKind, ...]:
    """The upgrades ``job``'s video offers (none when the operator offers none)."""
    model = known_model(job.model)
    if not enabled or job.is_upscale or model is None or not model.upscalable:
        return ()
    return tuple(UPGRADE_EFFECTS)


def extendable(job: Job) -> bool:
    """Whether ``job``'s video can be continued (Extend)."""
    model = known_model(job.model)
    return model is not None and model.extendable and not job.is_upscale


def fresh_preview(tr: Translator, job: Job, *, offer_upgrades: bool) -> InlineKeyboardMarkup:
    """The keyboard a video is delivered with: nothing pressed yet."""
    offered = upgrades_offered(job, enabled=offer_upgrades)
    return keyboards.preview(tr, job.id, extendable=extendable(job), upgrades=[(kind, False) for kind in offered])


async def current_preview(
    tr: Translator, jobs: JobStore, job: Job, *, offer_upgrades: bool, published: bool
) -> InlineKeyboardMarkup:
    """The keyboard as it should look now: what was published or asked for shows its done mark."""
    offered = upgrades_offered(job, enabled=offer_upgrades)
    upgrades = [(kind, await jobs.claimed(job.id, UPGRADE_EFFECTS[kind])) for kind in offered]
    return keyboards.preview(tr, job.id, extendable=extendable(job), published=published, upgrades=upgrades)
