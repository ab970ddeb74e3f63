"""Response-format parsers: one small function per provider shape, tried in order by :func:`parse_status`."""

from providers.parsers.chain import PARSERS, Parser, parse_status
from providers.parsers.generic import find_video_url

__all__ = ["PARSERS", "Parser", "find_video_url", "parse_status"]
