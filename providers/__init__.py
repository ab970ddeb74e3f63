"""Provider adapters (KIE.ai Veo and Market), the model catalog and the response-format parsers."""

from providers.catalog import ModelInfo, all_models, get_model
from providers.download import HttpVideoDownloader
from providers.kie_market import KieMarketProvider
from providers.kie_veo import KieVeoProvider
from providers.parsers import parse_status
from providers.registry import ProviderRegistry

__all__ = [
    "HttpVideoDownloader",
    "KieMarketProvider",
    "KieVeoProvider",
    "ModelInfo",
    "ProviderRegistry",
    "all_models",
    "get_model",
    "parse_status",
]
