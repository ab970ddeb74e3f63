"""The console's signing key, and where a sign-in may send the browser."""

from __future__ import annotations

import pytest

from console.auth import safe_next, session_key


def test_the_cookie_key_is_derived_from_the_token_the_same_in_every_process() -> None:
    token = "t" * 32

    assert session_key(token) == session_key(token)
    assert session_key(token) != session_key("u" * 32)
    assert token not in session_key(token)


@pytest.mark.parametrize(
    ("target", "goes_to"),
    [
        ("/console/jobs?status=failed", "/console/jobs?status=failed"),
        ("/console", "/console"),
        ("https://evil.test/console/", "/console/"),
        ("//evil.test/console/", "/console/"),
        ("/consolex", "/console/"),
        ("/console/\\evil.test", "/console/"),
        (None, "/console/"),
    ],
)
def test_a_sign_in_returns_only_to_a_console_page(target: str | None, goes_to: str) -> None:
    assert safe_next(target) == goes_to
