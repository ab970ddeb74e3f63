"""A fal.ai simulator speaking the real queue API (tests and the local sandbox).

Run it alone with ``python -m sandbox.fal`` (port 8710, key ``test-fal-key``)."""

from sandbox.fal.app import create_app
from sandbox.fal.scenario import FalScenario, apply_prompt_markers
from sandbox.fal.signing import WebhookSigner
from sandbox.fal.state import FalCall, FalSimulator, SimRequest, WebhookRecord

__all__ = [
    "FalCall",
    "FalScenario",
    "FalSimulator",
    "SimRequest",
    "WebhookRecord",
    "WebhookSigner",
    "apply_prompt_markers",
    "create_app",
]
