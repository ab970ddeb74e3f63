"""The job API (``/v1``): FastAPI on top of the Starlette app, for any front end or automation (README, "Job API")."""

from __future__ import annotations

from bot.http.v1.app import V1Deps, create_v1_app

__all__ = ["V1Deps", "create_v1_app"]
