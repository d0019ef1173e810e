"""Lineage: table- and column-level data flow between assets, with provenance."""
