"""Failover targets from the operator's ``[failover]`` lists and the catalog (:class:`poller.ports.Failover`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from poller.jobs import Job, TaskKind
from poller.ports import FailoverTarget
from providers.catalog import Catalog


class CatalogFailover:
    """``model -> [fallback, …]``: the first fallback that is offered, takes the job's photos and was not tried."""

    def __init__(self, fallbacks: Mapping[str, Sequence[str]], catalog: Catalog) -> None:
        self._fallbacks = {model: tuple(chain) for model, chain in fallbacks.items()}
        self._catalog = catalog

    def next_for(self, job: Job) -> FailoverTarget | None:
        """The next fallback of the model the user asked for, or None."""
        if job.kind is not TaskKind.GENERATE:
            return None  # a continuation or upscale belongs to the provider that made its parent
        asked = job.requested_model or job.model
        tried = {asked, job.model, *(refused.model for refused in job.refused_submits)}
        for model_id in self._fallbacks.get(asked, ()):
            model = self._catalog.get(model_id)
            if model is None or model_id in tried or not self._catalog.is_enabled(model_id):
                continue
            if model.accepts(job.options):
                return FailoverTarget(model.id, model.provider, model.fitted(job.options))
        return None
