"""The heavy-request queue: most urgent first, FIFO within a priority, clean shutdown."""

import threading

import pytest

from edpbrl.app.heavy import BACKGROUND, INTERACTIVE, RESULT, PriorityExecutor


def _blocked(ex: PriorityExecutor) -> threading.Event:
    """Occupy the executor's only thread until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(10)

    ex.submit(hold, INTERACTIVE)
    assert started.wait(10)
    return release


def test_runs_by_priority_then_arrival():
    ex = PriorityExecutor(1, "t")
    release = _blocked(ex)
    order = []
    futs = [
        ex.submit(lambda n=n: order.append(n), p)
        for n, p in (("summary-1", BACKGROUND), ("result-1", RESULT), ("summary-2", BACKGROUND),
                     ("image", INTERACTIVE), ("result-2", RESULT))
    ]  # fmt: skip
    assert ex.pending() == 5
    release.set()
    for f in futs:
        f.result(10)
    assert order == ["image", "result-1", "result-2", "summary-1", "summary-2"]
    ex.shutdown()


def test_results_and_exceptions_reach_the_caller():
    ex = PriorityExecutor(2, "t")
    assert ex.submit(lambda: 41 + 1).result(10) == 42
    with pytest.raises(ZeroDivisionError):
        ex.submit(lambda: 1 / 0).result(10)
    ex.shutdown()


def test_initializer_runs_in_each_thread():
    names = []

    def init(tag):
        names.append((tag, threading.current_thread().name))

    ex = PriorityExecutor(1, "init", initializer=init, initargs=("x",))
    ex.submit(lambda: None).result(10)
    assert names == [("x", "init-0")]
    ex.shutdown()


def test_shutdown_cancels_queued_jobs_and_refuses_new_ones():
    ex = PriorityExecutor(1, "t")
    release = _blocked(ex)
    queued = ex.submit(lambda: "never")
    ex.shutdown(wait=False, cancel_futures=True)  # the thread is still busy: the job is queued
    assert queued.cancelled()
    with pytest.raises(RuntimeError, match="closed"):
        ex.submit(lambda: None)
    release.set()
    ex.shutdown(wait=True)


def test_shutdown_without_cancel_drains_the_queue():
    ex = PriorityExecutor(1, "t")
    release = _blocked(ex)
    queued = ex.submit(lambda: "done")
    release.set()
    ex.shutdown(wait=True)
    assert queued.result(0) == "done"


def test_needs_a_worker():
    with pytest.raises(ValueError, match="workers"):
        PriorityExecutor(0)
