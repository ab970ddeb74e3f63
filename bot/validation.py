"""Cheap checks on a prompt before anything is stored or sent (no I/O)."""

from __future__ import annotations

import unicodedata

from bot import texts


def prompt_problem(prompt: str, max_chars: int) -> str | None:
    """What the user must fix in ``prompt``, or None when it is fine."""
    text = prompt.strip()
    if not text:
        return texts.PROMPT_EMPTY
    if len(text) > max_chars:
        return texts.prompt_too_long(max_chars, len(text))
    # Line breaks and tabs are ordinary in a description; other control characters are not.
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        return texts.PROMPT_CONTROL_CHARS
    return None


def clean_prompt(prompt: str) -> str:
    """The prompt as we store and send it."""
    return prompt.strip()
