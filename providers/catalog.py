"""The model catalog: lookups on the table (:mod:`providers.catalog_table`) and the operator's choice of which
models are offered (``models.enabled``)."""

from __future__ import annotations

from collections.abc import Iterable

from poller.errors import ErrorCode, JobError
from poller.jobs import TaskKind
from poller.ports import SubmitRequest
from providers.catalog_table import MODELS
from providers.model_info import InputKind, ModelInfo, ProviderName, RequestFields

__all__ = [
    "Catalog",
    "InputKind",
    "ModelInfo",
    "ProviderName",
    "RequestFields",
    "all_models",
    "get_model",
    "known_model",
    "models_for",
]

_BY_ID = {model.id: model for model in MODELS}
if len(_BY_ID) != len(MODELS):
    raise RuntimeError("the catalog table lists a model id twice")


def get_model(model_id: str) -> ModelInfo:
    """The catalog entry for ``model_id``; ``JobError(INVALID_INPUT)`` when there is none."""
    try:
        return _BY_ID[model_id]
    except KeyError:
        raise JobError(ErrorCode.INVALID_INPUT, f"unknown model {model_id!r}", request_sent=False) from None


def known_model(model_id: str) -> ModelInfo | None:
    """The catalog entry for ``model_id``, or None."""
    return _BY_ID.get(model_id)


def model_of(model_id: str, provider: ProviderName) -> ModelInfo | None:
    """The catalog entry for ``model_id`` when ``provider`` serves it, or None."""
    entry = _BY_ID.get(model_id)
    return entry if entry is not None and entry.provider == provider else None


def new_video_model(request: SubmitRequest, provider: ProviderName) -> ModelInfo:
    """The model a request for a new video asks ``provider`` for, its options checked before any call;
    ``JobError(INVALID_INPUT)`` (nothing sent) when that provider does not serve it or it asks for another kind."""
    model = model_of(request.model, provider)
    if model is None:
        raise JobError(ErrorCode.INVALID_INPUT, f"{request.model} is not served by {provider}", request_sent=False)
    if request.kind is not TaskKind.GENERATE:
        raise JobError(ErrorCode.INVALID_INPUT, f"{model.label} cannot make {request.kind}", request_sent=False)
    model.check_options(request.options)
    return model


def all_models() -> tuple[ModelInfo, ...]:
    """Every model of the table, in menu order (enabled or not)."""
    return MODELS


def models_for(provider: str) -> tuple[ModelInfo, ...]:
    """The models one provider adapter serves."""
    return tuple(model for model in MODELS if model.provider == provider)


class Catalog:
    """The models this deployment offers: the table's, narrowed to ``enabled`` (menu order kept).

    ``enabled`` None: every model whose provider is configured (``providers``), except those off by default."""

    def __init__(
        self,
        *,
        enabled: Iterable[str] | None = None,
        providers: Iterable[str] = ("kie_veo", "kie_market"),
        models: tuple[ModelInfo, ...] = MODELS,
    ) -> None:
        self._by_id = {model.id: model for model in models}
        configured = frozenset(providers)
        if enabled is None:
            wanted = {m.id for m in models if m.enabled_by_default and m.provider in configured}
        else:
            wanted = set(enabled)
            unknown = sorted(wanted - self._by_id.keys())
            if unknown:
                raise ValueError(f"unknown models: {', '.join(unknown)}")
        self._offered = tuple(m for m in models if m.id in wanted and m.provider in configured)
        self._offered_ids = frozenset(m.id for m in self._offered)

    def get(self, model_id: str) -> ModelInfo | None:
        """The entry for ``model_id`` (enabled or not), or None when the table has no such model."""
        return self._by_id.get(model_id)

    def knows(self, model_id: str) -> bool:
        """Whether the table has ``model_id`` (enabled or not)."""
        return model_id in self._by_id

    def is_enabled(self, model_id: str) -> bool:
        """Whether users may pick ``model_id`` now."""
        return model_id in self._offered_ids

    def offered(self) -> tuple[ModelInfo, ...]:
        """The enabled models, in menu order."""
        return self._offered

    def taking_images(self) -> tuple[ModelInfo, ...]:
        """The enabled models that can start from a photo."""
        return tuple(model for model in self._offered if model.accepts_image)

    def frames_taken(self, model: str) -> int:
        """How many photos ``model`` can start from: 0, 1 (a first frame) or 2 (first and last)."""
        entry = self._by_id.get(model)
        if entry is None or not entry.accepts_image:
            return 0
        return 2 if entry.accepts_last_frame else 1

    def provider_for(self, model: str) -> str | None:
        """The provider that serves ``model`` when it is enabled, else None (``poller.ports.ModelCatalog``)."""
        entry = self._by_id.get(model)
        return entry.provider if entry is not None and self.is_enabled(model) else None
