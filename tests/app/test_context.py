"""AppContext.heavy_once: requests with one key share one job while it is queued or running."""

import asyncio
import threading

from edpbrl.app.context import AppContext
from edpbrl.app.heavy import BACKGROUND, INTERACTIVE


def _ctx() -> AppContext:
    return AppContext(store=None, manager=None, generator=None, cache=None, templates=None, heavy_threads=1)


def test_same_key_shares_one_job_and_a_new_one_runs_after_it():
    ctx = _ctx()
    calls = []
    started, release = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(10)

    def job(tag):
        calls.append(tag)
        return len(calls)

    async def scenario():
        blocker = asyncio.ensure_future(ctx.heavy(hold, INTERACTIVE))
        await asyncio.to_thread(started.wait, 10)  # the only thread is busy: the jobs queue
        same = [
            asyncio.ensure_future(ctx.heavy_once(("summary", "a"), lambda: job("a"), BACKGROUND))
            for _ in range(3)
        ]
        other = asyncio.ensure_future(ctx.heavy_once(("summary", "b"), lambda: job("b"), BACKGROUND))
        await asyncio.sleep(0.05)
        release.set()
        await blocker
        got = await asyncio.gather(*same, other)
        again = await ctx.heavy_once(("summary", "a"), lambda: job("a again"), BACKGROUND)
        return got, again

    try:
        got, again = asyncio.run(scenario())
    finally:
        ctx.close()
    assert sorted(calls[:2]) == ["a", "b"] and calls[2] == "a again"  # one job per key at a time
    assert got[0] == got[1] == got[2]  # the three requests got the same job's answer
    assert again == 3


def test_a_request_that_goes_away_does_not_cancel_the_shared_job():
    ctx = _ctx()
    started, release = threading.Event(), threading.Event()
    ran = []

    def hold():
        started.set()
        release.wait(10)

    async def scenario():
        blocker = asyncio.ensure_future(ctx.heavy(hold, INTERACTIVE))
        await asyncio.to_thread(started.wait, 10)
        first = asyncio.ensure_future(ctx.heavy_once("k", lambda: ran.append(1) or "done", BACKGROUND))
        second = asyncio.ensure_future(ctx.heavy_once("k", lambda: ran.append(2) or "other", BACKGROUND))
        await asyncio.sleep(0.05)
        first.cancel()  # e.g. a closed tab
        release.set()
        await blocker
        return await second

    try:
        assert asyncio.run(scenario()) == "done"
    finally:
        ctx.close()
    assert ran == [1]
