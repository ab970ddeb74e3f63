"""POST the documented callback body to ``callBackUrl`` when a simulated task ends (best effort)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import structlog

from sandbox.kie.bodies import callback_body
from sandbox.kie.state import CallbackRecord, KieSimulator, SimTask

log = structlog.get_logger(__name__)

CALLBACK_TIMEOUT_S = 15.0  # what KIE documents for its own callbacks


class CallbackSender:
    """Sends callbacks from the server's event loop; ``aclose`` cancels the ones still pending."""

    def __init__(self, sim: KieSimulator) -> None:
        self._sim = sim
        self._pending: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def task_finished(self, task: SimTask) -> None:
        """``task`` just reached its outcome: call its ``callBackUrl`` back, if it has one."""
        if task.callback_url:
            self.send(task.id, task.callback_url, callback_body(task, self._sim.public_url))

    def send(self, task_id: str, url: str, body: dict[str, Any]) -> None:
        """POST ``body`` to ``url`` in the background (an upgrade's callback has its own body)."""
        self._spawn(self._post(task_id, url, body))

    def after(self, delay_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the server's loop ``delay_s`` from now (a time-based upgrade finishing)."""

        async def later() -> None:
            await asyncio.sleep(delay_s)
            action()

        self._spawn(later())

    def watch(self, task: SimTask) -> None:
        """For a time-based task with a ``callBackUrl``: finish it when its time is up and call back."""
        if task.callback_url and task.time_based and not task.finished:
            self._spawn(self._finish_later(task))

    async def aclose(self) -> None:
        """Cancel pending callbacks and close the HTTP client."""
        for pending in list(self._pending):
            pending.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._pending.add(task)  # keep a reference: the loop only holds weak ones
        task.add_done_callback(self._pending.discard)

    async def _finish_later(self, task: SimTask) -> None:
        due = task.scenario.completion_s or 0.0
        await asyncio.sleep(max(0.0, due - (time.monotonic() - task.created_monotonic)))
        if self._sim.finish_if_due(task.id):
            finished = self._sim.get_task(task.id)
            if finished is not None:
                self.task_finished(finished)

    async def _post(self, task_id: str, url: str, body: dict[str, Any]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S)
        try:
            response = await self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            log.warning("kie_sim.callback_failed", task_id=task_id, error=type(exc).__name__)
            self._sim.record_callback(CallbackRecord(task_id, url, body, None, f"{type(exc).__name__}: {exc}"))
            return
        log.info("kie_sim.callback_sent", task_id=task_id, status=response.status_code)
        self._sim.record_callback(CallbackRecord(task_id, url, body, response.status_code))
