"""The app's routers: :mod:`.pages` (HTML) and :mod:`.api` (JSON API and exports)."""

from .api import router as api_router
from .pages import router as pages_router

__all__ = ["api_router", "pages_router"]
