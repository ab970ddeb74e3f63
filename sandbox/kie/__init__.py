"""A KIE.ai simulator speaking the real Veo and Market HTTP APIs (tests and the local sandbox)."""

from sandbox.kie.app import create_app
from sandbox.kie.scenario import Outcome, Scenario, apply_prompt_markers
from sandbox.kie.state import CallbackRecord, KieSimulator, SimTask

__all__ = ["CallbackRecord", "KieSimulator", "Outcome", "Scenario", "SimTask", "apply_prompt_markers", "create_app"]
