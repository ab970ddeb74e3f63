"""Every user-facing string, in one place (ready for translation)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from poller.errors import ErrorCode
from poller.jobs import JobStatus, TaskKind

GENERATING = "Video generating…"

START = (
    "Hi! I turn a description into a short AI video.\n\n"
    "Just send me what you want to see, for example:\n"
    "“A red fox running through fresh snow at sunrise, cinematic”.\n"
    "Or send a photo with a caption, and the photo comes to life.\n\n"
    "/settings — model, aspect ratio and duration\n"
    "/status — your recent videos\n"
    "/cancel — stop the video being made\n"
    "/balance — your credits\n"
    "/help — how it works"
)

HELP = (
    "How it works:\n"
    "1. Send a description (or /video <description>), or a photo with a caption: the photo is the first frame. "
    "An album of two photos gives the first and the last frame on models that take both.\n"
    "2. I answer at once and start the video; it usually takes a few minutes. /cancel stops it.\n"
    "3. The video arrives here with buttons: Publish (posts it to the channel), Extend (continues it with a new "
    "prompt, Veo models only) and, where offered, 1080p and 4K for a bigger copy of a Veo video.\n\n"
    "/settings changes the model, the aspect ratio and the duration; /status lists your recent videos."
)

STATUS_LINES: dict[JobStatus, str] = {
    JobStatus.QUEUED: "Your video is waiting to start.",
    JobStatus.VALIDATING: "Your video is waiting to start.",
    JobStatus.RUNNING: "Your video is being generated.",
    JobStatus.DELAYED: "This is taking longer than usual. We will keep checking and send it when it is ready.",
    JobStatus.DELIVERING: "Your video is ready; sending it now.",
    JobStatus.SUCCEEDED: "Your video is ready.",
}

ERRORS: dict[ErrorCode, str] = {
    ErrorCode.INVALID_INPUT: "Please check the prompt: the video service could not accept it.",
    ErrorCode.MODERATION_REJECTED: "This request could not be processed.",
    ErrorCode.INSUFFICIENT_CREDITS: "You are out of credits.",
    ErrorCode.RATE_LIMITED: "The video service is busy; we will keep trying.",
    ErrorCode.PROVIDER_UNAVAILABLE: "The video service is busy; we will keep trying.",
    ErrorCode.PROVIDER_ERROR: "The video could not be generated. Your credits were returned.",
    ErrorCode.TIMEOUT: (
        "This took too long and was stopped. Your credits were returned. "
        "If the video still turns up within a day, we will send it to you."
    ),
    ErrorCode.DOWNLOAD_FAILED: "We could not deliver your video. Your credits were returned.",
    ErrorCode.UPLOAD_FAILED: "We could not deliver your video. Your credits were returned.",
    ErrorCode.DELIVERY_FAILED: "We could not deliver your video. Your credits were returned.",
    ErrorCode.CANCELLED: "Cancelled.",
}

PROMPT_EMPTY = "Please send a description of the video you want, for example: /video a cat surfing a wave."
PROMPT_CONTROL_CHARS = "Please check the prompt: it contains control characters; send plain text only."
PROMPT_NOT_TEXT = "Please check the prompt: it contains characters that are not text; send plain text only."
TOO_MANY_ACTIVE = "You already have {count} videos in progress. Please wait for one to finish (see /status)."
UNKNOWN_MODEL = "Your chosen model is no longer available; please pick another in /settings."
MODEL_NOT_OFFERED = "{model} is not offered here. Please pick one of these in /settings: {offered}."
MODEL_WITHDRAWN = "{old} is no longer offered, so your videos are now made with {new}. /settings can change it."
NOT_STARTED = "Your video could not be started because of a problem on our side. Nothing was charged; please try again."
SOMETHING_WENT_WRONG = "Something went wrong on our side; please try again."
PRIVATE = "This bot is private."
VIDEO_GONE = "This video is no longer available."

# Image-to-video: a photo (or an album of two: first and last frame) starts the video.
PHOTO_ASK = "What should happen in the video? Reply to this message with a description, and I will start it."
PHOTO_PLACEHOLDER = "Describe the video…"
PHOTO_GONE = "That photo is no longer waiting for a description; please send it again with a caption."
PHOTO_NOT_READ = "I could not read this file; please send it again."
PHOTO_FAILED = (
    "Your photo could not be used: send a JPEG, PNG or WebP photo at least 300 px on its short side. "
    "Your credits were returned."
)
NO_PHOTO_MODELS = "{model} makes videos from words only, and no model here starts from a photo. Send a description."
TAKES_NO_PHOTO = (
    "{model} makes videos from words only. These models start from a photo: {models}. /settings can switch."
)


def photo_question(token: str) -> str:
    """The ForceReply question for a photo without a caption; the token in it finds the photo again."""
    return f"{PHOTO_ASK}\n(photo {token})"


def photo_token(question: str | None) -> str | None:
    """The token of a photo question, or None for any other text."""
    match = _PHOTO_TOKEN.search(question or "")
    return match.group(1) if match and (question or "").startswith(PHOTO_ASK) else None


_PHOTO_TOKEN = re.compile(r"\(photo ([A-Za-z0-9_-]{6,32})\)$")


def not_a_photo(what: str | None) -> str:
    """Refusal of a file that is not a JPEG, PNG or WebP (``what``: its format when recognised)."""
    found = f"a {what}" if what else "not a photo"
    return f"This file is {found}; send a JPEG, PNG or WebP photo."


def photo_too_small(width: int, height: int, minimum: int) -> str:
    """Refusal of a photo under the minimum on its short side."""
    return f"This photo is {width}×{height}; send one at least {minimum} px on its short side."


def photo_too_large(size: int, limit: int) -> str:
    """Refusal of a photo over ``limits.max_image_bytes``."""
    return f"This photo is {_megabytes(size)}; send one of at most {_megabytes(limit)}."


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


PUBLISH = "📢 Publish"
PUBLISHED = "✅ Published"
EXTEND = "➕ Extend"
CANCEL = "✖ Cancel"

PUBLISH_DONE = "Published to the channel."
PUBLISH_ALREADY = "Already published."
PUBLISH_UNAVAILABLE = "Publishing is not set up for this bot."
PUBLISH_FAILED = "Could not publish right now; please try again in a minute."
EXTEND_NOT_SUPPORTED = "Only Veo videos can be extended."

# The upgrades of a delivered Veo video (providers.kie.offer_upgrades).
UPGRADE_NAMES: dict[TaskKind, str] = {TaskKind.UPSCALE_1080P: "1080p", TaskKind.UPSCALE_4K: "4K"}


def upgrade_button(kind: TaskKind) -> str:
    """The button that asks for an upgrade."""
    return f"⬆ {UPGRADE_NAMES[kind]}"


def upgrade_asked(kind: TaskKind) -> str:
    """What the button shows once the upgrade was asked for."""
    return f"✅ {UPGRADE_NAMES[kind]} ordered"


def video_label(model_label: str, kind: TaskKind) -> str:
    """How a delivered video is named in its caption: the model, and for an upgrade which version it is."""
    name = UPGRADE_NAMES.get(kind)
    return f"{model_label} · {name} version" if name else model_label


EXTEND_ASK = "How should the video continue? Reply to this message with the next part of the story."


def extend_question(job_id: str) -> str:
    """The ForceReply question; the video id in it is how the reply finds the video it continues."""
    return f"{EXTEND_ASK}\n(video {job_id})"


def extended_job_id(question: str | None) -> str | None:
    """The video id of an Extend question, or None for any other text."""
    match = _EXTEND_ID.search(question or "")
    return match.group(1) if match and (question or "").startswith(EXTEND_ASK) else None


_EXTEND_ID = re.compile(r"\(video ([A-Za-z0-9_-]{6,32})\)$")
EXTEND_PLACEHOLDER = "Describe what happens next…"
NOT_YOURS = "This button belongs to someone else's video."
BUTTON_EXPIRED = "This button is no longer valid."
NOT_READY = "This video is not ready yet."

NO_JOBS = "You have no videos yet. Send a description to make one."
NOTHING_TO_CANCEL = "There is no video in progress to cancel."
CANCELLED = "Cancelled. You will not receive this video."
CANNOT_CANCEL = "This video is already being delivered and can no longer be cancelled."
ALREADY_FINISHED = "Too late to cancel: this video has just been finished, and it is on its way."

SETTINGS_TITLE = "Your settings:\nModel: {model}\nAspect ratio: {aspect}\nDuration: {duration} s"
SETTINGS_PICK_MODEL = "Choose a model:"
SETTINGS_PICK_ASPECT = "Choose an aspect ratio:"
SETTINGS_PICK_DURATION = "Choose a duration:"
SETTINGS_SAVED = "Saved."
SETTINGS_MODEL = "🎞 Model"
SETTINGS_ASPECT = "📐 Aspect ratio"
SETTINGS_DURATION = "⏱ Duration"
SETTINGS_BACK = "« Back"

STATUS_WORDS: dict[JobStatus, str] = {
    JobStatus.QUEUED: "waiting to start",
    JobStatus.VALIDATING: "waiting to start",
    JobStatus.RUNNING: "generating",
    JobStatus.DELAYED: "taking longer than usual",
    JobStatus.DELIVERING: "sending",
    JobStatus.SUCCEEDED: "delivered",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


BALANCE = "Your balance: {balance} credits."
ADMINS_ONLY = "This command is for admins."
GRANT_USAGE = "Usage: /grant <user_id> <credits>"
GRANTED = "User {user_id} now has {balance} credits."
CREDITS_OFF = "Credits are not used on this bot."


def out_of_credits(balance: int, price: int) -> str:
    """Refusal when the balance does not cover a video."""
    return f"You are out of credits: this video costs {price} and your balance is {balance}."


def daily_limit(limit: int, seconds_left: float) -> str:
    """Refusal once the user made ``limit`` videos today; says when the next UTC day starts."""
    minutes = max(1, -(-int(seconds_left) // 60))  # rounded up: "in 0 min" would be wrong
    wait = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return (
        f"You have made {limit} videos today, the most allowed per day. You can make more in {wait} (at midnight UTC)."
    )


def prompt_too_long(limit: int, actual: int) -> str:
    """Tell the user how much to cut."""
    return f"Please shorten the prompt to at most {limit} characters (yours has {actual})."


PROVIDER_NAMES = {"kie_veo": "KIE", "kie_market": "KIE", "fal": "fal"}
FAILED_OVER = "{asked} is busy at {provider}; making it with {model} instead."


def failed_over(asked_label: str, asked_provider: str, model_label: str) -> str:
    """The line the status message carries once failover moved the job to another model."""
    provider = PROVIDER_NAMES.get(asked_provider, asked_provider)
    return FAILED_OVER.format(asked=asked_label, provider=provider, model=model_label)


def queue_place(position: int) -> str:
    """The status message's line while the provider's queue holds the job. fal's ``queue_position`` counts the
    requests ahead (0: next), so the user's number is one more."""
    return "You are next in the queue." if position <= 0 else f"You are number {position + 1} in the queue."


def status_message(status: JobStatus) -> str:
    """The status message text for a job in ``status``."""
    return f"{GENERATING}\n{STATUS_LINES.get(status, '')}".rstrip()


def error_message(code: ErrorCode | None) -> str:
    """What the user reads when a job ends badly (never the provider's raw error)."""
    return ERRORS.get(code or ErrorCode.PROVIDER_ERROR, ERRORS[ErrorCode.PROVIDER_ERROR])


def ended_message(code: ErrorCode | None, raw: str | None) -> str:
    """What the user reads when a job ends badly: a photo that could not be used has its own words (its checks
    record a ``photo:`` reason), every other failure the one of its code."""
    if code is ErrorCode.INVALID_INPUT and (raw or "").startswith("photo:"):
        return PHOTO_FAILED
    return error_message(code)


def caption(model_label: str, duration_s: float | None, took_s: float | None = None, *, late: bool = False) -> str:
    """The caption under a delivered video (without the time taken when ``took_s`` is None)."""
    parts = [f"🎬 {model_label}"]
    if duration_s:
        parts.append(f"{duration_s:.0f} s")
    if took_s is not None:
        parts.append(f"made in {_human_duration(took_s)}")
    text = " · ".join(parts)
    return f"{text}\n(arrived late)" if late else text


def video_link(url: str, ttl_s: int, caption_text: str, *, interrupted: bool = False) -> str:
    """The message sent instead of the video: too large for Telegram, or a send cut off by a restart."""
    valid = _human_duration(ttl_s)
    reason = (
        "Sending your video was interrupted; if it did not arrive above,"
        if interrupted
        else "Your video is too large to send here."
    )
    return f"{caption_text}\n\n{reason} Download it (link valid {valid}):\n{url}"


def status_line(job_id: str, model_label: str, status: JobStatus, age_s: float) -> str:
    """One line of /status."""
    return f"• {model_label} — {STATUS_WORDS[status]} ({_human_duration(age_s)} ago) · id {job_id}"


def _human_duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        return f"{whole // 3600} h"
    return f"{whole // 86400} days"


# Credits for Telegram Stars (/buy, the invoice, the payment, /refund, /paysupport, /terms).
BUY_NONE = "Credits are not for sale on this bot."
BUY_MENU = "Buy credits with Telegram Stars:"
BUY_BUTTON = "⭐ Buy credits"
INVOICE_DESCRIPTION = "{credits} credits for making videos with this bot."
CHECKOUT_REFUSALS = {
    "unreadable": "This invoice is no longer valid. Send /buy for a new one.",
    "pack_gone": "This pack has changed or is no longer sold. Send /buy to see today's packs.",
    "not_the_buyer": "This invoice was made for someone else. Send /buy for your own.",
    "wrong_amount": "The amount does not match this invoice. Send /buy for a new one.",
}
PAID = "Thank you! {credits} credits were added; your balance is {balance} credits."
PAYMENT_UNREADABLE = (
    "We received your payment but could not match it to an invoice. Send /paysupport and we will sort it out."
)
PURCHASES_HEADER = "Your last purchases:"
PURCHASE_LINE = "• {date}: {credits} credits for ⭐{stars}{refunded}"
PURCHASE_REFUNDED = " (refunded)"
REFUND_USAGE = "Usage: /refund <telegram_payment_charge_id> [force]"
REFUNDED = "Refunded: ⭐ back to user {user_id}; {taken} credits taken back; their balance is {balance}."
REFUND_UNKNOWN = "No payment with that charge id was credited here."
REFUND_ALREADY = "That payment was refunded already; nothing changed."
REFUND_SPENT = (
    "User {user_id} has spent some of these credits (balance {balance}, the pack gave {credits}). The balance cannot "
    "go below zero: send /refund {charge_id} force to refund the Stars and take back only what is left."
)
REFUND_REFUSED = "Telegram refused the refund ({reason}); nothing changed."


def purchase_line(at: float, credits: int, stars: int, *, refunded: bool) -> str:
    """One purchase in /balance: its UTC date, what it gave, its price, and whether it was refunded."""
    day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")
    note = PURCHASE_REFUNDED if refunded else ""
    return PURCHASE_LINE.format(date=day, credits=credits, stars=stars, refunded=note)


def pack_button(label: str, stars: int) -> str:
    """A pack's button: its label and price."""
    return f"{label} — ⭐{stars}"


# /history
HISTORY_EMPTY = "You have no videos yet. Send a description to make one."
HISTORY_HEADER = "Your videos, newest first (page {page} of {pages}):"
HISTORY_LINE = "{number}. {date} · {model} · “{prompt}”"
HISTORY_GONE = "This video is no longer available."
HISTORY_LINK = "This video is too large to send again here; download it: {url}"


def history_again(number: int) -> str:
    """The button that sends video ``number`` of the history again."""
    return f"▶ {number}"


# Invitations (/invite, t.me/<bot>?start=ref_<code>)
INVITE = "Invite friends with this link:\n{link}"
INVITE_BONUS = "When someone you invite makes their first purchase, you both get {bonus} bonus credits."
REFERRAL_WELCOME = "Welcome! You joined through an invitation."
REFERRAL_BONUS_INVITEE = "You joined through an invitation: {bonus} bonus credits are yours. Your balance is {balance}."
REFERRAL_BONUS_INVITER = "Someone you invited made their first purchase: {bonus} bonus credits are yours."
