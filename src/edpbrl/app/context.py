"""What the routes need, in one object: :class:`AppContext`, kept on ``app.state.ctx``."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..render import Generator, ImageCache
from ..store import Store
from .heavy import RESULT, PriorityExecutor
from .sessions import SessionManager

SUMMARY_EVERY = 3  # show "what I've learned so far" after every this many answers
HEAVY_NICE = 10  # heavy threads run at this OS niceness: answering and paging preempt them
T = TypeVar("T")


def _lower_priority(nice: int) -> None:
    """Run this thread ``nice`` steps nicer (Linux schedules threads one by one)."""
    if nice <= 0:
        return
    try:
        own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, own + nice))
    except (AttributeError, OSError):  # not Linux, or not allowed: the limit still applies
        pass


@dataclass
class AppContext:
    """The app's shared objects. ``generator`` is ``None`` when options are shown as text cards.

    ``heavy_threads``: how many heavy requests (summary, results, exports, images) run at once,
    in threads of their own ``heavy_nice`` steps below the OS priority of answering (0: the
    same); the rest wait their turn, most urgent first, so that answering never waits behind them
    for a core and a person opening their results never waits behind other people's summaries.
    """

    store: Store
    manager: SessionManager
    generator: Generator | None
    cache: ImageCache
    templates: Jinja2Templates
    summary_every: int = SUMMARY_EVERY
    heavy_threads: int = 1
    heavy_nice: int = HEAVY_NICE
    _heavy: Any = field(default=None, repr=False)
    _heavy_lock: Any = field(default_factory=threading.RLock, repr=False)  # (RLock: see heavy_once)
    _inflight: dict = field(default_factory=dict, repr=False)

    @property
    def images(self) -> bool:
        """Whether options and results come with rendered images."""
        return self.generator is not None

    async def heavy(self, fn: Callable[[], T], priority: int = RESULT) -> T:
        """``fn()`` in one of ``heavy_threads`` low-priority worker threads. Queued jobs run by
        ``priority`` (:mod:`edpbrl.app.heavy`: an option's image, then results and exports, then
        summaries), first come first served within one priority."""
        return await asyncio.wrap_future(self._submit(fn, priority))

    async def heavy_once(self, key: Any, fn: Callable[[], T], priority: int = RESULT) -> T:
        """:meth:`heavy`, except that requests with the same ``key`` while one is queued or running
        share it (e.g. a person's summary: however many requests a slow server sees, one job)."""
        with self._heavy_lock:
            fut = self._inflight.get(key)
            if fut is None:
                fut = self._submit(fn, priority)
                self._inflight[key] = fut
                fut.add_done_callback(lambda f: self._forget(key, f))
        # shielded: one request that goes away (a closed tab) does not cancel the others' job
        return await asyncio.shield(asyncio.wrap_future(fut))

    async def heavy_unless_cached(
        self, cached: Callable[[], T | None], fn: Callable[[], T], priority: int = RESULT
    ) -> T:
        """``cached()`` in a request thread, and :meth:`heavy` ``fn()`` only if that gives None.

        For results and exports: once computed for the current answers they are lookups, which
        should not queue behind other people's computations in the heavy threads."""
        out = await run_in_threadpool(cached)
        return out if out is not None else await self.heavy(fn, priority)

    def _forget(self, key: Any, fut: Future) -> None:
        with self._heavy_lock:
            if self._inflight.get(key) is fut:
                del self._inflight[key]

    def _submit(self, fn: Callable[[], T], priority: int) -> Future:
        with self._heavy_lock:
            if self._heavy is None:
                self._heavy = PriorityExecutor(
                    max(1, int(self.heavy_threads)),
                    "edpbrl-heavy",
                    initializer=_lower_priority,
                    initargs=(int(self.heavy_nice),),
                )
            return self._heavy.submit(fn, priority)

    def close(self) -> None:
        """Stop the heavy threads (waiting for what they run)."""
        if self._heavy is not None:
            self._heavy.shutdown(wait=True, cancel_futures=True)
            self._heavy = None


def get_ctx(request: Request) -> AppContext:
    """The app's :class:`AppContext` (a FastAPI dependency: ``Depends(get_ctx)``)."""
    return request.app.state.ctx
