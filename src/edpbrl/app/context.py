"""What the routes need, in one object: :class:`AppContext`, kept on ``app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.templating import Jinja2Templates

from ..render import Generator, ImageCache
from ..store import Store
from .sessions import SessionManager

SUMMARY_EVERY = 3  # show "what I've learned so far" after every this many answers


@dataclass
class AppContext:
    """The app's shared objects. ``generator`` is ``None`` when options are shown as text cards."""

    store: Store
    manager: SessionManager
    generator: Generator | None
    cache: ImageCache
    templates: Jinja2Templates
    summary_every: int = SUMMARY_EVERY

    @property
    def images(self) -> bool:
        """Whether options and results come with rendered images."""
        return self.generator is not None


def get_ctx(request: Request) -> AppContext:
    """The app's :class:`AppContext` (a FastAPI dependency: ``Depends(get_ctx)``)."""
    return request.app.state.ctx
