"""The cheap prompt checks (``poller.prompts``) in the user's words."""

from __future__ import annotations

from bot import texts
from bot.i18n import ENGLISH, Translator
from poller.prompts import PromptKind, PromptProblem
from poller.prompts import prompt_problem as find_problem


def problem_text(tr: Translator, problem: PromptProblem) -> str:
    """What the user must fix, as the bot says it."""
    if problem.kind is PromptKind.EMPTY:
        return tr(texts.PROMPT_EMPTY)
    if problem.kind is PromptKind.TOO_LONG:
        return texts.prompt_too_long(tr, problem.limit, problem.actual)
    if problem.kind is PromptKind.CONTROL_CHARS:
        return tr(texts.PROMPT_CONTROL_CHARS)
    return tr(texts.PROMPT_NOT_TEXT)


def prompt_problem(prompt: str, max_chars: int, tr: Translator = ENGLISH) -> str | None:
    """What the user must fix in ``prompt``, in the bot's words (English unless ``tr`` says otherwise), or None
    when it is fine."""
    problem = find_problem(prompt, max_chars)
    return None if problem is None else problem_text(tr, problem)
