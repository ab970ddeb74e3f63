"""Reelay's version, as installed (pyproject.toml's ``version``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("reelay")
except PackageNotFoundError:  # running from a tree that was never installed
    VERSION = "0+unknown"
