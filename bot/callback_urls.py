"""The check of a job's ``callback_url`` where it comes in (the poll-video contract, the job API): the same rule as
``webhooks.endpoints`` in the configuration. Messages never repeat the URL (it may carry a token)."""

from __future__ import annotations

from bot.config_rules import url_problem

MAX_CALLBACK_URL_CHARS = 2048


def callback_url_problem(url: str, *, allow_private_addresses: bool) -> str | None:
    """Why ``url`` cannot be a callback (a sentence to follow its field's name), or None.

    https only: plain http would show the body and its signature to anyone on the path. Plain http is allowed
    with ``network.allow_private_addresses`` (loopback stand-ins in tests and the sandbox). The address itself is
    checked as each event is sent (``outbound.posts``), since a name may resolve elsewhere later.
    """
    if len(url) > MAX_CALLBACK_URL_CHARS:
        return f"must be at most {MAX_CALLBACK_URL_CHARS} characters"
    schemes = ("http", "https") if allow_private_addresses else ("https",)
    problem = url_problem(url, schemes)
    if problem is None:
        return None
    if not allow_private_addresses and url.lower().startswith("http://"):
        problem += " (plain http is allowed only with network.allow_private_addresses)"
    return problem
