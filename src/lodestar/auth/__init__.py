"""Principals, roles, tokens and the write policy."""
