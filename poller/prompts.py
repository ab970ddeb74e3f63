"""Cheap checks on a prompt before anything is reserved, stored or sent (no I/O).

The entry points turn a :class:`PromptProblem` into their own words (``bot/texts.py`` for Telegram).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class PromptKind(StrEnum):
    """What is wrong with a prompt."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    CONTROL_CHARS = "control_chars"
    NOT_TEXT = "not_text"  # lone surrogates and Unicode non-characters


@dataclass(frozen=True, slots=True)
class PromptProblem:
    """One problem, with the numbers a message needs (``TOO_LONG``: the limit and the prompt's length)."""

    kind: PromptKind
    limit: int = 0
    actual: int = 0


def prompt_problem(prompt: str, max_chars: int) -> PromptProblem | None:
    """What the user must fix in ``prompt``, or None when it is fine."""
    text = prompt.strip()
    if not text:
        return PromptProblem(PromptKind.EMPTY)
    if len(text) > max_chars:
        return PromptProblem(PromptKind.TOO_LONG, limit=max_chars, actual=len(text))
    if text.isascii():
        # The common case: no surrogate or non-character can be ASCII; only control characters are left.
        return _control_chars(text)
    # A lone surrogate (valid in a Python str, not in UTF-8) cannot be stored or sent: Redis and the provider
    # need UTF-8, and the encode would fail only after the credits were reserved.
    if any(_not_text(ch) for ch in text):
        return PromptProblem(PromptKind.NOT_TEXT)
    return _control_chars(text)


def clean_prompt(prompt: str) -> str:
    """The prompt as we store and send it."""
    return prompt.strip()


def _control_chars(text: str) -> PromptProblem | None:
    # Line breaks and tabs are ordinary in a description; other control characters are not.
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        return PromptProblem(PromptKind.CONTROL_CHARS)
    return None


def _not_text(ch: str) -> bool:
    """A surrogate code point, or one of Unicode's 66 non-characters (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF)."""
    code = ord(ch)
    return 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE
