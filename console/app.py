"""The console as one Starlette ``Mount`` at ``/console``, with its own middleware: only its routes pay for the
session cookie, the sign-in check and the security headers; the Telegram webhook and the API never see them."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console.actions import Actions
from console.auth import PREFIX, RequireSignIn, SignIn, session_middleware
from console.deps import ConsoleDeps
from console.headers import SecurityHeaders
from console.live import LiveFeed
from console.render import Renderer
from console.views import Pages

STATIC = Path(__file__).parent / "static"


def console_mount(deps: ConsoleDeps) -> Mount:
    """Every console route under ``/console``: pages, live feed, actions, sign-in, static files."""
    renderer = Renderer()
    pages, live, actions = Pages(deps, renderer), LiveFeed(deps, renderer), Actions(deps)
    sign_in = SignIn(deps.token, deps.sign_in, renderer)
    routes = [
        Route("/", pages.overview, methods=["GET"]),
        Route("/jobs", pages.jobs, methods=["GET"]),
        Route("/jobs/{job_id}", pages.job, methods=["GET"]),
        Route("/jobs/{job_id}/cancel", actions.cancel, methods=["POST"]),
        Route("/jobs/{job_id}/rerun-delivery", actions.rerun_delivery, methods=["POST"]),
        Route("/jobs/{job_id}/refund", actions.refund, methods=["POST"]),
        Route("/live/jobs", live.jobs, methods=["GET"]),
        Route("/live/jobs/{job_id}", live.job, methods=["GET"]),
        Route("/sign-in", sign_in.page, methods=["GET"]),
        Route("/sign-in", sign_in.submit, methods=["POST"]),
        Route("/sign-out", sign_in.sign_out, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),  # outermost: on redirects and refusals too
        session_middleware(deps.token, secure=deps.secure_cookie),
        Middleware(RequireSignIn),
    ]
    return Mount(PREFIX, routes=routes, middleware=middleware, name="console")
