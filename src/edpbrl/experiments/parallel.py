"""Where the evaluation grid's jobs run: in this process, in a local process pool, or on Ray.

:func:`run_jobs` returns the results in the order of the jobs whatever the backend, and every job
carries its own seed, so the same jobs give the same results on every backend. Ray is imported
only for ``backend="ray"``: a local Ray with ``workers`` CPUs by default, or the cluster at
``address`` (``ray://host:10001`` or ``host:6379``; edpbrl must be installed on its nodes).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from ..errors import EdpbrlError

BACKENDS = ("process", "ray")


def _ray():
    try:
        import ray
    except ImportError:
        raise EdpbrlError("--backend ray needs Ray: pip install 'edpbrl[ray]'") from None
    return ray


@contextmanager
def ray_session(workers: int = 1, address: str | None = None) -> Iterator[Any]:
    """Ray, started for the block if it is not running yet (a local instance with ``workers``
    CPUs, or connected to the cluster at ``address``) and shut down after it; a Ray the caller
    started is used as it is."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    # one torch thread per job, as in the process pool (the workers inherit the environment)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    opts: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        opts["address"] = address
    else:
        opts.update(num_cpus=max(1, int(workers)), include_dashboard=False)
    try:
        ray.init(**opts)
    except Exception as exc:  # connection refused, a cluster of another Ray version, ...
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        text = str(exc).strip().splitlines()
        raise EdpbrlError(f"cannot start {where}: {text[0] if text else type(exc).__name__}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def run_jobs(
    fn: Callable,
    jobs: Sequence,
    *,
    backend: str = "process",
    workers: int = 1,
    address: str | None = None,
    on_done: Callable[[], None] | None = None,
) -> list:
    """``[fn(job) for job in jobs]``, run by ``backend``: ``"process"`` (in this process when
    ``workers`` is 1, else a spawn-context process pool) or ``"ray"`` (one task per job).
    ``on_done()`` is called as each job finishes (for a progress bar)."""
    if backend not in BACKENDS:
        raise EdpbrlError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if address and backend != "ray":
        raise EdpbrlError("an address is for --backend ray")
    done = on_done or (lambda: None)
    if backend == "ray":
        return _run_ray(fn, jobs, workers, address, done)
    out = []
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        ctx = multiprocessing.get_context("spawn")  # torch is not fork-safe
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            for r in ex.map(fn, jobs):
                out.append(r)
                done()
    else:
        for job in jobs:
            out.append(fn(job))
            done()
    return out


def _run_ray(fn: Callable, jobs: Sequence, workers: int, address: str | None, done: Callable) -> list:
    with ray_session(workers, address) as ray:
        task = ray.remote(num_cpus=1, max_retries=0)(fn)
        refs = [task.remote(job) for job in jobs]
        where = {ref: i for i, ref in enumerate(refs)}
        out: list = [None] * len(refs)
        pending = list(refs)
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                try:
                    out[where[ref]] = ray.get(ref)
                except ray.exceptions.RayTaskError as err:  # the job's own exception, as locally
                    cause = getattr(err, "cause", None)
                    if isinstance(cause, Exception):
                        raise cause from None
                    raise
                done()
        return out
