"""Thin routers: parse the request, call the catalog, present the result."""
