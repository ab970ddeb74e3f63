"""HTML from Jinja2 templates that escape every value: a prompt or a provider's raw error is text, never markup.

Autoescaping is on for every template (not chosen by file name), nothing is marked safe, and the pages carry a
Content-Security-Policy that allows scripts from the console's own files only (``console.headers``), so markup
that slipped through would still not run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from poller.version import VERSION

TEMPLATES = Path(__file__).parent / "templates"
FLASH = "flash"  # the session key of a message shown once, on the next page


def utc(unix_time: float | None) -> str:
    """``2025-01-31 12:00:03`` (UTC), or an empty string."""
    if unix_time is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(unix_time))


def duration(seconds: float | None) -> str:
    """A span as people read it: ``4.2 s``, ``3 min 5 s``, ``2 h 3 min``, ``3 d 4 h``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def age(unix_time: float | None) -> str:
    """How long ago ``unix_time`` was."""
    return "" if unix_time is None else duration(max(0.0, time.time() - unix_time))


def size(n_bytes: int | None) -> str:
    """``5.2 MB``."""
    if n_bytes is None:
        return ""
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def percent(ratio: float | None) -> str:
    """``97.5 %``, or an empty string."""
    return "" if ratio is None else f"{ratio * 100:.1f} %"


def rounded(value: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals, or an empty string."""
    return "" if value is None else f"{value:.{digits}f}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,  # a misspelt name fails the test, not the page silently
        auto_reload=False,  # templates ship with the code: no stat per page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(utc=utc, duration=duration, age=age, size=size, percent=percent, rounded=rounded)
    env.globals.update(version=VERSION)
    return env


class Renderer:
    """Pages and fragments from the console's templates."""

    def __init__(self) -> None:
        self._env = _environment()

    def fragment(self, template: str, **context: Any) -> str:
        """A piece of a page (a table row, a job's live part), for the live feed."""
        return self._env.get_template(template).render(**context)

    def page(self, request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        """A whole page, with the signed-in operator's form token and the message left for this page, if any."""
        session = request.scope.get("session") or {}
        flash = session.pop(FLASH, None) if FLASH in session else None
        html = self._env.get_template(template).render(
            csrf=session.get("csrf", ""),
            signed_in=bool(session.get("signed_in")),
            flash=flash,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Leave a message for the next page this operator sees (kept in the signed session cookie)."""
    request.session[FLASH] = {"message": message, "kind": kind}
