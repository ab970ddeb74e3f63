"""The provider registry: which adapter serves a model, found by model id or by adapter name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from poller.errors import ErrorCode, JobError
from poller.ports import VideoProvider


class ProviderRegistry:
    """The configured adapters, asked in order; the first that supports a model serves it."""

    def __init__(self, providers: Iterable[VideoProvider]) -> None:
        self._providers = list(providers)
        names = [provider.name for provider in self._providers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"provider names must be unique: {', '.join(duplicates)}")
        self._by_name = {provider.name: provider for provider in self._providers}

    def for_model(self, model_id: str) -> VideoProvider:
        """The adapter that serves ``model_id``; ``JobError(INVALID_INPUT)`` when none does."""
        for provider in self._providers:
            if provider.supports(model_id):
                return provider
        raise JobError(ErrorCode.INVALID_INPUT, f"no provider serves model {model_id!r}", request_sent=False)

    def by_name(self, name: str) -> VideoProvider:
        """The adapter called ``name`` (a job records it); ``JobError(PROVIDER_ERROR)`` when unknown."""
        try:
            return self._by_name[name]
        except KeyError:
            raise JobError(
                ErrorCode.PROVIDER_ERROR, f"no provider named {name!r} is configured", request_sent=False
            ) from None

    def __iter__(self) -> Iterator[VideoProvider]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    async def aclose(self) -> None:
        """Close every adapter (each closes its HTTP client; closing a shared one twice is harmless)."""
        for provider in self._providers:
            await provider.aclose()
