"""Fixtures of the search suites."""

from .support import search_api

__all__ = ["search_api"]
