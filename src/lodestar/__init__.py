"""Lodestar: one catalog, API first, for every data asset's metadata."""

__version__ = "0.1.0"
