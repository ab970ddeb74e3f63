"""The KIE.ai account itself: its credit balance (provider-apis.md §8, ``GET /api/v1/chat/credit``)."""

from __future__ import annotations

from poller.errors import ErrorCode, JobError
from providers.api_client import ApiClient
from providers.kie_common import KieApi

CREDIT_PATH = "/api/v1/chat/credit"


async def credit_balance(client: ApiClient, base_url: str, api_key: str) -> float:
    """The account's credits (``data`` is a bare number); raise :class:`poller.errors.JobError` when the key is
    refused, KIE does not answer, or the answer is not a number."""
    data = await KieApi(client, base_url, api_key, provider="kie").get(CREDIT_PATH, {})
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise JobError(ErrorCode.PROVIDER_UNAVAILABLE, f"{CREDIT_PATH}: the balance is not a number")
    return float(data)
