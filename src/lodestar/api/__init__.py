"""The HTTP adapter: FastAPI app factory and thin routers over the catalog."""

from lodestar.api.app import create_app

__all__ = ["create_app"]
