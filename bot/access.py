"""Who may use the bot (``access.mode``): anyone, a fixed list of users, or whoever brought an invite code.

Admins (``admin.user_ids``) are always let in. Invite codes are secrets: they are compared in constant time
and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

from storage.admissions import RedisAdmissions

AccessMode = Literal["open", "allowlist", "invite"]


class AccessPolicy:
    """Decides whether a user may use the bot, and admits users who bring a valid invite code."""

    def __init__(
        self,
        mode: AccessMode,
        *,
        user_ids: Iterable[int] = (),
        admin_ids: Iterable[int] = (),
        invite_codes: Iterable[str] = (),
        admissions: RedisAdmissions | None = None,
    ) -> None:
        if mode == "invite" and admissions is None:
            raise ValueError("invite mode needs the admissions store")
        self.mode = mode
        self._allowed = frozenset(user_ids) if mode == "allowlist" else frozenset()
        self._admins = frozenset(admin_ids)
        # Digests, so every comparison has the same length and takes the same time whatever was typed.
        self._codes = [_digest(code) for code in invite_codes if code]
        self._admissions = admissions

    async def allows(self, user_id: int) -> bool:
        """Whether ``user_id`` may use the bot now."""
        if self.mode == "open" or user_id in self._admins:
            return True
        if self.mode == "allowlist":
            return user_id in self._allowed
        assert self._admissions is not None
        return await self._admissions.admitted(user_id)

    async def admit(self, user_id: int, code: str) -> bool:
        """Admit ``user_id`` for good if ``code`` is one of the invite codes (invite mode only)."""
        if self.mode != "invite" or self._admissions is None or not self.valid_code(code):
            return False
        await self._admissions.admit(user_id)
        return True

    def valid_code(self, code: str) -> bool:
        """Whether ``code`` is an invite code, compared against every code in constant time."""
        given = _digest(code)
        found = False
        for known in self._codes:
            found |= hmac.compare_digest(given, known)  # no early exit: the time says nothing about the codes
        return found


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).digest()
