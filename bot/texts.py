"""Every user-facing string, in one place: English message ids, translated where they are shown.

Constants are marked with ``N_`` (``NP_`` for a message whose form depends on a number) so ``pybabel extract``
finds them (``scripts/i18n``); a handler shows one as ``tr(texts.X, name=value)`` with the user's
:class:`bot.i18n.Translator`. Functions that compose a text take that translator first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from babel.dates import format_timedelta

from bot.i18n import N_, NP_, Translator, every_translation
from poller.errors import ErrorCode
from poller.jobs import JobStatus, TaskKind

GENERATING = N_("Video generating…")

START = N_(
    "Hi! I turn a description into a short AI video.\n\n"
    "Just send me what you want to see, for example:\n"
    "“A red fox running through fresh snow at sunrise, cinematic”.\n"
    "Or send a photo with a caption, and the photo comes to life.\n\n"
    "/settings — model, aspect ratio and duration\n"
    "/status — your recent videos\n"
    "/cancel — stop the video being made\n"
    "/balance — your credits (/buy for more)\n"
    "/history — your videos, to send again\n"
    "/language — the bot's language\n"
    "/help — how it works"
)

HELP = N_(
    "How it works:\n"
    "1. Send a description (or /video <description>), or a photo with a caption: the photo is the first frame. "
    "An album of two photos gives the first and the last frame on models that take both.\n"
    "2. I answer at once and start the video; it usually takes a few minutes. /cancel stops it.\n"
    "3. The video arrives here with buttons: Publish (posts it to the channel), Extend (continues it with a new "
    "prompt, Veo models only) and, where offered, 1080p and 4K for a bigger copy of a Veo video.\n\n"
    "/settings changes the model, the aspect ratio and the duration; /status lists your recent videos."
)

STATUS_LINES: dict[JobStatus, str] = {
    JobStatus.QUEUED: N_("Your video is waiting to start."),
    JobStatus.VALIDATING: N_("Your video is waiting to start."),
    JobStatus.RUNNING: N_("Your video is being generated."),
    JobStatus.DELAYED: N_("This is taking longer than usual. We will keep checking and send it when it is ready."),
    JobStatus.DELIVERING: N_("Your video is ready; sending it now."),
    JobStatus.SUCCEEDED: N_("Your video is ready."),
}

ERRORS: dict[ErrorCode, str] = {
    ErrorCode.INVALID_INPUT: N_("Please check the prompt: the video service could not accept it."),
    ErrorCode.MODERATION_REJECTED: N_("This request could not be processed."),
    ErrorCode.INSUFFICIENT_CREDITS: N_("You are out of credits."),
    ErrorCode.RATE_LIMITED: N_("The video service is busy; we will keep trying."),
    ErrorCode.PROVIDER_UNAVAILABLE: N_("The video service is busy; we will keep trying."),
    ErrorCode.PROVIDER_ERROR: N_("The video could not be generated. Your credits were returned."),
    ErrorCode.TIMEOUT: N_(
        "This took too long and was stopped. Your credits were returned. "
        "If the video still turns up within a day, we will send it to you."
    ),
    ErrorCode.DOWNLOAD_FAILED: N_("We could not deliver your video. Your credits were returned."),
    ErrorCode.UPLOAD_FAILED: N_("We could not deliver your video. Your credits were returned."),
    ErrorCode.DELIVERY_FAILED: N_("We could not deliver your video. Your credits were returned."),
    ErrorCode.CANCELLED: N_("Cancelled."),
}

PROMPT_EMPTY = N_("Please send a description of the video you want, for example: /video a cat surfing a wave.")
PROMPT_CONTROL_CHARS = N_("Please check the prompt: it contains control characters; send plain text only.")
PROMPT_NOT_TEXT = N_("Please check the prompt: it contains characters that are not text; send plain text only.")
TOO_MANY_ACTIVE = NP_(
    "You already have {count} video in progress. Please wait for it to finish (see /status).",
    "You already have {count} videos in progress. Please wait for one to finish (see /status).",
)
UNKNOWN_MODEL = N_("Your chosen model is no longer available; please pick another in /settings.")
MODEL_NOT_OFFERED = N_("{model} is not offered here. Please pick one of these in /settings: {offered}.")
MODEL_WITHDRAWN = N_("{old} is no longer offered, so your videos are now made with {new}. /settings can change it.")
NOT_STARTED = N_(
    "Your video could not be started because of a problem on our side. Nothing was charged; please try again."
)
SOMETHING_WENT_WRONG = N_("Something went wrong on our side; please try again.")
PRIVATE = N_("This bot is private.")
VIDEO_GONE = N_("This video is no longer available.")

# Image-to-video: a photo (or an album of two: first and last frame) starts the video.
PHOTO_ASK = N_("What should happen in the video? Reply to this message with a description, and I will start it.")
PHOTO_PLACEHOLDER = N_("Describe the video…")
PHOTO_GONE = N_("That photo is no longer waiting for a description; please send it again with a caption.")
PHOTO_NOT_READ = N_("I could not read this file; please send it again.")
PHOTO_FAILED = N_(
    "Your photo could not be used: send a JPEG, PNG or WebP photo at least 300 px on its short side. "
    "Your credits were returned."
)
NO_PHOTO_MODELS = N_("{model} makes videos from words only, and no model here starts from a photo. Send a description.")
TAKES_NO_PHOTO = N_(
    "{model} makes videos from words only. These models start from a photo: {models}. /settings can switch."
)


def photo_question(tr: Translator, token: str) -> str:
    """The ForceReply question for a photo without a caption; the token in it finds the photo again."""
    return f"{tr(PHOTO_ASK)}\n(photo {token})"


def photo_token(question: str | None) -> str | None:
    """The token of a photo question (asked in any language), or None for any other text."""
    match = _PHOTO_TOKEN.search(question or "")
    return match.group(1) if match and _asked(PHOTO_ASK, question) else None


def _asked(question_id: str, text: str | None) -> bool:
    """Whether ``text`` starts with our question ``question_id`` in one of the shipped languages (the user may
    have switched language since it was asked)."""
    return any((text or "").startswith(asked) for asked in every_translation(question_id))


_PHOTO_TOKEN = re.compile(r"\(photo ([A-Za-z0-9_-]{6,32})\)$")


NOT_A_PHOTO = N_("This file is not a photo; send a JPEG, PNG or WebP photo.")
NOT_A_PHOTO_BUT = N_("This file is a {format}; send a JPEG, PNG or WebP photo.")
PHOTO_TOO_SMALL = N_("This photo is {width}×{height}; send one at least {minimum} px on its short side.")
PHOTO_TOO_LARGE = N_("This photo is {size}; send one of at most {limit}.")


def not_a_photo(tr: Translator, what: str | None) -> str:
    """Refusal of a file that is not a JPEG, PNG or WebP (``what``: its format when recognised)."""
    return tr(NOT_A_PHOTO_BUT, format=what) if what else tr(NOT_A_PHOTO)


def photo_too_small(tr: Translator, width: int, height: int, minimum: int) -> str:
    """Refusal of a photo under the minimum on its short side."""
    return tr(PHOTO_TOO_SMALL, width=width, height=height, minimum=minimum)


def photo_too_large(tr: Translator, size: int, limit: int) -> str:
    """Refusal of a photo over ``limits.max_image_bytes``."""
    return tr(PHOTO_TOO_LARGE, size=_megabytes(size), limit=_megabytes(limit))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


PUBLISH = N_("📢 Publish")
PUBLISHED = N_("✅ Published")
EXTEND = N_("➕ Extend")
CANCEL = N_("✖ Cancel")

PUBLISH_DONE = N_("Published to the channel.")
PUBLISH_ALREADY = N_("Already published.")
PUBLISH_UNAVAILABLE = N_("Publishing is not set up for this bot.")
PUBLISH_FAILED = N_("Could not publish right now; please try again in a minute.")
EXTEND_NOT_SUPPORTED = N_("Only Veo videos can be extended.")

# The upgrades of a delivered Veo video (providers.kie.offer_upgrades).
UPGRADE_NAMES: dict[TaskKind, str] = {TaskKind.UPSCALE_1080P: "1080p", TaskKind.UPSCALE_4K: "4K"}
UPGRADE_ORDERED = N_("✅ {version} ordered")
UPGRADED_VIDEO = N_("{model} · {version} version")


def upgrade_button(kind: TaskKind) -> str:
    """The button that asks for an upgrade (the version's name is the same in every language)."""
    return f"⬆ {UPGRADE_NAMES[kind]}"


def upgrade_asked(tr: Translator, kind: TaskKind) -> str:
    """What the button shows once the upgrade was asked for."""
    return tr(UPGRADE_ORDERED, version=UPGRADE_NAMES[kind])


def video_label(tr: Translator, model_label: str, kind: TaskKind) -> str:
    """How a delivered video is named in its caption: the model, and for an upgrade which version it is."""
    name = UPGRADE_NAMES.get(kind)
    return tr(UPGRADED_VIDEO, model=model_label, version=name) if name else model_label


EXTEND_ASK = N_("How should the video continue? Reply to this message with the next part of the story.")


def extend_question(tr: Translator, job_id: str) -> str:
    """The ForceReply question; the video id in it is how the reply finds the video it continues."""
    return f"{tr(EXTEND_ASK)}\n(video {job_id})"


def extended_job_id(question: str | None) -> str | None:
    """The video id of an Extend question (asked in any language), or None for any other text."""
    match = _EXTEND_ID.search(question or "")
    return match.group(1) if match and _asked(EXTEND_ASK, question) else None


_EXTEND_ID = re.compile(r"\(video ([A-Za-z0-9_-]{6,32})\)$")
EXTEND_PLACEHOLDER = N_("Describe what happens next…")
NOT_YOURS = N_("This button belongs to someone else's video.")
BUTTON_EXPIRED = N_("This button is no longer valid.")
NOT_READY = N_("This video is not ready yet.")

NO_JOBS = N_("You have no videos yet. Send a description to make one.")
NOTHING_TO_CANCEL = N_("There is no video in progress to cancel.")
CANCELLED = N_("Cancelled. You will not receive this video.")
CANNOT_CANCEL = N_("This video is already being delivered and can no longer be cancelled.")
ALREADY_FINISHED = N_("Too late to cancel: this video has just been finished, and it is on its way.")

SETTINGS_TITLE = N_("Your settings:\nModel: {model}\nAspect ratio: {aspect}\nDuration: {duration} s")
SETTINGS_PICK_MODEL = N_("Choose a model:")
SETTINGS_PICK_ASPECT = N_("Choose an aspect ratio:")
SETTINGS_PICK_DURATION = N_("Choose a duration:")
SETTINGS_SAVED = N_("Saved.")
SETTINGS_MODEL = N_("🎞 Model")
SETTINGS_ASPECT = N_("📐 Aspect ratio")
SETTINGS_DURATION = N_("⏱ Duration")
SETTINGS_LANGUAGE = N_("🌐 Language")
SETTINGS_LANGUAGE_LINE = N_("Language: {language}")
SETTINGS_BACK = N_("« Back")

STATUS_WORDS: dict[JobStatus, str] = {
    JobStatus.QUEUED: N_("waiting to start"),
    JobStatus.VALIDATING: N_("waiting to start"),
    JobStatus.RUNNING: N_("generating"),
    JobStatus.DELAYED: N_("taking longer than usual"),
    JobStatus.DELIVERING: N_("sending"),
    JobStatus.SUCCEEDED: N_("delivered"),
    JobStatus.FAILED: N_("failed"),
    JobStatus.CANCELLED: N_("cancelled"),
}


BALANCE = NP_("Your balance: {balance} credit.", "Your balance: {balance} credits.")
ADMINS_ONLY = N_("This command is for admins.")
GRANT_USAGE = N_("Usage: /grant <user_id> <credits>")
GRANTED = NP_("User {user_id} now has {balance} credit.", "User {user_id} now has {balance} credits.")
CREDITS_OFF = N_("Credits are not used on this bot.")


OUT_OF_CREDITS = N_("You are out of credits: this video costs {price} and your balance is {balance}.")
DAILY_LIMIT = NP_(
    "You have made {limit} video today, the most allowed per day. You can make more in {wait} (at midnight UTC).",
    "You have made {limit} videos today, the most allowed per day. You can make more in {wait} (at midnight UTC).",
)
PROMPT_TOO_LONG = NP_(
    "Please shorten the prompt to at most {limit} character (yours has {actual}).",
    "Please shorten the prompt to at most {limit} characters (yours has {actual}).",
)


def out_of_credits(tr: Translator, balance: int, price: int) -> str:
    """Refusal when the balance does not cover a video."""
    return tr(OUT_OF_CREDITS, price=price, balance=balance)


def daily_limit(tr: Translator, limit: int, seconds_left: float) -> str:
    """Refusal once the user made ``limit`` videos today; says when the next UTC day starts."""
    minutes = max(1, -(-int(seconds_left) // 60))  # rounded up: "in 0 min" would be wrong
    hours, rest = divmod(minutes, 60)
    wait = (
        _duration(tr, minutes * 60)
        if not hours or not rest
        else f"{_duration(tr, hours * 3600)} {_duration(tr, rest * 60)}"
    )
    return tr.plural(DAILY_LIMIT, limit, limit=limit, wait=wait)


def prompt_too_long(tr: Translator, limit: int, actual: int) -> str:
    """Tell the user how much to cut."""
    return tr.plural(PROMPT_TOO_LONG, limit, limit=limit, actual=actual)


PROVIDER_NAMES = {"kie_veo": "KIE", "kie_market": "KIE", "fal": "fal"}
FAILED_OVER = N_("{asked} is busy at {provider}; making it with {model} instead.")
QUEUE_NEXT = N_("You are next in the queue.")
QUEUE_NUMBER = N_("You are number {number} in the queue.")
CAPTION_LENGTH = N_("{seconds} s")
CAPTION_MADE_IN = N_("made in {duration}")
CAPTION_LATE = N_("(arrived late)")
LINK_TOO_LARGE = N_("Your video is too large to send here. Download it (link valid {valid}):")
LINK_INTERRUPTED = N_(
    "Sending your video was interrupted; if it did not arrive above, download it (link valid {valid}):"
)
STATUS_LINE = N_("• {model} — {status} ({age} ago) · id {job_id}")


def failed_over(tr: Translator, asked_label: str, asked_provider: str, model_label: str) -> str:
    """The line the status message carries once failover moved the job to another model."""
    provider = PROVIDER_NAMES.get(asked_provider, asked_provider)
    return tr(FAILED_OVER, asked=asked_label, provider=provider, model=model_label)


def queue_place(tr: Translator, position: int) -> str:
    """The status message's line while the provider's queue holds the job. fal's ``queue_position`` counts the
    requests ahead (0: next), so the user's number is one more."""
    return tr(QUEUE_NEXT) if position <= 0 else tr(QUEUE_NUMBER, number=position + 1)


def status_message(tr: Translator, status: JobStatus) -> str:
    """The status message text for a job in ``status``."""
    line = STATUS_LINES.get(status)
    return f"{tr(GENERATING)}\n{tr(line)}" if line else tr(GENERATING)


def error_message(tr: Translator, code: ErrorCode | None) -> str:
    """What the user reads when a job ends badly (never the provider's raw error)."""
    return tr(ERRORS.get(code or ErrorCode.PROVIDER_ERROR, ERRORS[ErrorCode.PROVIDER_ERROR]))


def ended_message(tr: Translator, code: ErrorCode | None, raw: str | None) -> str:
    """What the user reads when a job ends badly: a photo that could not be used has its own words (its checks
    record a ``photo:`` reason), every other failure the one of its code."""
    if code is ErrorCode.INVALID_INPUT and (raw or "").startswith("photo:"):
        return tr(PHOTO_FAILED)
    return error_message(tr, code)


def caption(
    tr: Translator, model_label: str, duration_s: float | None, took_s: float | None = None, *, late: bool = False
) -> str:
    """The caption under a delivered video (without the time taken when ``took_s`` is None)."""
    parts = [f"🎬 {model_label}"]
    if duration_s:
        parts.append(tr(CAPTION_LENGTH, seconds=f"{duration_s:.0f}"))
    if took_s is not None:
        parts.append(tr(CAPTION_MADE_IN, duration=_duration(tr, took_s)))
    text = " · ".join(parts)
    return f"{text}\n{tr(CAPTION_LATE)}" if late else text


def video_link(tr: Translator, url: str, ttl_s: int, caption_text: str, *, interrupted: bool = False) -> str:
    """The message sent instead of the video: too large for Telegram, or a send cut off by a restart."""
    reason = tr(LINK_INTERRUPTED if interrupted else LINK_TOO_LARGE, valid=_duration(tr, ttl_s))
    return f"{caption_text}\n\n{reason}\n{url}"


def status_line(tr: Translator, job_id: str, model_label: str, status: JobStatus, age_s: float) -> str:
    """One line of /status."""
    return tr(STATUS_LINE, model=model_label, status=tr(STATUS_WORDS[status]), age=_duration(tr, age_s), job_id=job_id)


def _duration(tr: Translator, seconds: float) -> str:
    """A short span in the user's language ("5 min", "5 мин"), from Babel's locale data."""
    return format_timedelta(timedelta(seconds=round(seconds)), threshold=1, format="short", locale=tr.language)


# Credits for Telegram Stars (/buy, the invoice, the payment, /refund, /paysupport, /terms).
BUY_NONE = N_("Credits are not for sale on this bot.")
BUY_MENU = N_("Buy credits with Telegram Stars:")
BUY_BUTTON = N_("⭐ Buy credits")
INVOICE_DESCRIPTION = NP_(
    "{credits} credit for making videos with this bot.", "{credits} credits for making videos with this bot."
)
CHECKOUT_REFUSALS = {
    "unreadable": N_("This invoice is no longer valid. Send /buy for a new one."),
    "pack_gone": N_("This pack has changed or is no longer sold. Send /buy to see today's packs."),
    "not_the_buyer": N_("This invoice was made for someone else. Send /buy for your own."),
    "wrong_amount": N_("The amount does not match this invoice. Send /buy for a new one."),
}
PAID = NP_(
    "Thank you! {credits} credits were added; your balance is {balance} credit.",
    "Thank you! {credits} credits were added; your balance is {balance} credits.",
)
PAYMENT_UNREADABLE = N_(
    "We received your payment but could not match it to an invoice. Send /paysupport and we will sort it out."
)
PURCHASES_HEADER = N_("Your last purchases:")
PURCHASE_LINE = NP_(
    "• {date}: {credits} credit for ⭐{stars}{refunded}", "• {date}: {credits} credits for ⭐{stars}{refunded}"
)
PURCHASE_REFUNDED = N_(" (refunded)")
REFUND_USAGE = N_("Usage: /refund <telegram_payment_charge_id> [force]")
REFUNDED = N_("Refunded: ⭐ back to user {user_id}; {taken} credits taken back; their balance is {balance}.")
REFUND_UNKNOWN = N_("No payment with that charge id was credited here.")
REFUND_ALREADY = N_("That payment was refunded already; nothing changed.")
REFUND_SPENT = N_(
    "User {user_id} has spent some of these credits (balance {balance}, the pack gave {credits}). The balance cannot "
    "go below zero: send /refund {charge_id} force to refund the Stars and take back only what is left."
)
REFUND_REFUSED = N_("Telegram refused the refund ({reason}); nothing changed.")


def purchase_line(tr: Translator, at: float, credits: int, stars: int, *, refunded: bool) -> str:
    """One purchase in /balance: its UTC date, what it gave, its price, and whether it was refunded."""
    day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")
    note = tr(PURCHASE_REFUNDED) if refunded else ""
    return tr.plural(PURCHASE_LINE, credits, date=day, credits=credits, stars=stars, refunded=note)


def pack_button(label: str, stars: int) -> str:
    """A pack's button: its label and price."""
    return f"{label} — ⭐{stars}"


# /history
HISTORY_EMPTY = N_("You have no videos yet. Send a description to make one.")
HISTORY_HEADER = N_("Your videos, newest first (page {page} of {pages}):")
HISTORY_LINE = N_("{number}. {date} · {model} · “{prompt}”")
HISTORY_GONE = N_("This video is no longer available.")
HISTORY_LINK = N_("This video is too large to send again here; download it: {url}")


def history_again(number: int) -> str:
    """The button that sends video ``number`` of the history again."""
    return f"▶ {number}"


# Invitations (/invite, t.me/<bot>?start=ref_<code>)
INVITE = N_("Invite friends with this link:\n{link}")
INVITE_BONUS = NP_(
    "When someone you invite makes their first purchase, you both get {bonus} bonus credit.",
    "When someone you invite makes their first purchase, you both get {bonus} bonus credits.",
)
REFERRAL_WELCOME = N_("Welcome! You joined through an invitation.")
REFERRAL_BONUS_INVITEE = NP_(
    "You joined through an invitation: {bonus} bonus credit is yours. Your balance is {balance}.",
    "You joined through an invitation: {bonus} bonus credits are yours. Your balance is {balance}.",
)
REFERRAL_BONUS_INVITER = NP_(
    "Someone you invited made their first purchase: {bonus} bonus credit is yours.",
    "Someone you invited made their first purchase: {bonus} bonus credits are yours.",
)


# /language
LANGUAGE_PICK = N_("Choose the bot's language:")
LANGUAGE_SAVED = N_("From now on I speak English.")
