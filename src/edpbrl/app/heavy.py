"""A work queue for the app's heavy requests that serves the most urgent first.

Under load the heavy requests (summaries, results, exports, images) queue for a few threads. In
first-come order a person who opens their results waits behind every summary queued before them,
though a summary is a nicety that may come late and a result is what they are waiting for.
:class:`PriorityExecutor` runs jobs by ``(priority, arrival)``: lower priority numbers first,
first come first served within one priority.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

# priorities of the app's heavy requests (lower runs first)
INTERACTIVE = 0  # an option's image: the person cannot answer without it
RESULT = 1  # results, their page and images, exports that need the model
BACKGROUND = 2  # "what I have learned so far": may come late


class PriorityExecutor:
    """``workers`` threads that run submitted callables by (priority, arrival order).

    ``initializer(*initargs)`` runs once in each thread when it starts (e.g. to lower its OS
    priority). Threads start lazily with the first job and are daemons."""

    def __init__(
        self,
        workers: int,
        name: str = "worker",
        initializer: Callable[..., Any] | None = None,
        initargs: tuple = (),
    ):
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        self._workers = int(workers)
        self._name = name
        self._init = initializer
        self._initargs = initargs
        self._heap: list[tuple[int, int, Callable[[], Any], Future]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, fn: Callable[[], Any], priority: int = RESULT) -> Future:
        """Queue ``fn()``; its :class:`~concurrent.futures.Future`."""
        fut: Future = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("cannot submit to a closed executor")
            heapq.heappush(self._heap, (int(priority), next(self._seq), fn, fut))
            if len(self._threads) < self._workers:
                t = threading.Thread(target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
            self._cv.notify()
        return fut

    def pending(self) -> int:
        """How many jobs wait for a thread."""
        with self._cv:
            return len(self._heap)

    def _run(self) -> None:
        if self._init is not None:
            self._init(*self._initargs)
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if not self._heap:  # closed and drained
                    return
                _, _, fn, fut = heapq.heappop(self._heap)
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the awaiting request
                fut.set_exception(exc)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop taking jobs; with ``cancel_futures`` drop the queued ones; with ``wait`` join."""
        with self._cv:
            self._closed = True
            if cancel_futures:
                for _, _, _, fut in self._heap:
                    fut.cancel()
                self._heap.clear()
            self._cv.notify_all()
            threads = list(self._threads)
        if wait:
            for t in threads:
                t.join()
