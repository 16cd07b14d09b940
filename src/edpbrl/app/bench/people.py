"""Simulated people: each creates a session, answers questions with think time as the question page
does (summary every few answers), then opens the result and downloads every export.

Every person talks from its own loopback address (``127.0.0.2``, ``127.0.0.3``, ...), so the
server's per-client limits apply per person, as they would to people on their own machines.
:class:`Stats` keeps latencies per endpoint; :class:`Ledger` every answer sent and acknowledged.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STYLES = (
    "warm sunlight on a quiet beach",
    "a foggy harbour at dawn, muted colours",
    "neon city at night, rain",
    "medieval castle, oil painting",
    "minimal flat shapes, pastel",
    "",
)


def percentiles(values: list[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max of ``values`` (seconds) in milliseconds."""
    if not values:
        return {"n": 0}
    a = np.asarray(values) * 1000
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "n": len(values),
        "p50": round(p50, 1),
        "p95": round(p95, 1),
        "p99": round(p99, 1),
        "max": round(a.max(), 1),
    }


@dataclass
class Stats:
    """Latency (seconds) and status codes per endpoint; dropped connections and timeouts."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    dropped: Counter = field(default_factory=Counter)
    timeouts: Counter = field(default_factory=Counter)

    def record(self, endpoint: str, seconds: float, status: int) -> None:
        self.status[endpoint][status] += 1
        if status < 400:
            self.latency[endpoint].append(seconds)

    def summary(self) -> dict[str, Any]:
        names = sorted(set(self.latency) | set(self.status))
        return {
            n: {**percentiles(self.latency.get(n, [])), "status": dict(sorted(self.status[n].items()))}
            for n in names
        }

    def count(self, pred) -> int:
        return sum(c for st in self.status.values() for code, c in st.items() if pred(code))


@dataclass
class Ack:
    sid: str
    qid: str
    action: str
    position: int | None
    first_try: float  # when this answer was first sent (monotonic)
    at: float  # when it was acknowledged
    sent: float = 0.0  # when the request that was acknowledged was sent (the last try)


@dataclass
class Ledger:
    """What the people sent and what the server acknowledged."""

    sent: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    undos: Counter = field(default_factory=Counter)  # acknowledged undos per session
    sessions: set[str] = field(default_factory=set)
    started: int = 0
    finished: int = 0  # reached the result and every export
    cut: int = 0  # stopped by the time limit
    failed: list[str] = field(default_factory=list)


@dataclass
class PersonConfig:
    questions: int = 30
    think: float = 1.0  # mean seconds between seeing a question and answering (uniform ±50 %)
    skip: float = 0.03
    no_preference: float = 0.03
    undo: float = 0.02
    formats: tuple[str, ...] = ()
    summary: bool = True  # fetch the summary when the page would
    reload: bool = True  # GET the state after every answer (the page's poll; a reload)
    retry_forever: bool = False  # crash tests: the server comes back, keep trying
    timeout: float = 120.0
    session_body: dict = field(default_factory=dict)


class Person:
    """One simulated person; :meth:`run` goes through one session."""

    def __init__(self, index: int, url: str, cfg: PersonConfig, stats: Stats, ledger: Ledger, seed: int):
        import httpx

        self.url, self.cfg, self.stats, self.ledger = url, cfg, stats, ledger
        self.rng = random.Random(seed)
        self.address = f"127.0.{1 + (index + 1) // 254}.{1 + (index + 1) % 254}"
        transport = httpx.AsyncHTTPTransport(local_address=self.address, retries=0)
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(cfg.timeout, connect=10.0),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=30.0),
            headers={"Accept": "application/json"},
        )

    async def close(self) -> None:
        await self.client.aclose()

    # -- requests ---------------------------------------------------------------------------
    async def call(self, endpoint: str, method: str, path: str, **kw):
        """One request; the response, or None when the connection failed or timed out."""
        import httpx

        t0 = time.perf_counter()
        try:
            r = await self.client.request(method, self.url + path, **kw)
        except httpx.TimeoutException:
            self.stats.timeouts[endpoint] += 1
            return None
        except httpx.TransportError:
            self.stats.dropped[endpoint] += 1
            return None
        self.stats.record(endpoint, time.perf_counter() - t0, r.status_code)
        return r

    async def request(self, endpoint: str, method: str, path: str, ok=(200,), **kw):
        """:meth:`call` until a status in ``ok`` (or another 4xx, returned as is): waits out 429s
        and retries failed connections and 5xx (a few times, or for ever in crash tests)."""
        failures = 0
        while True:
            r = await self.call(endpoint, method, path, **kw)
            if r is not None and (
                r.status_code in ok or (400 <= r.status_code < 500 and r.status_code != 429)
            ):
                return r
            if r is not None and r.status_code == 429:
                await asyncio.sleep(min(5.0, float(r.headers.get("retry-after", "1"))))
                continue
            failures += 1
            if not self.cfg.retry_forever and failures > 3:
                raise PersonFailed(f"{endpoint}: {'no response' if r is None else r.status_code}")
            await asyncio.sleep(0.1 if self.cfg.retry_forever else 0.5)

    async def state(self, sid: str, endpoint: str = "question") -> dict:
        """The session's state once it is asking or done (polls like the page while designing)."""
        while True:
            r = await self.request(endpoint, "GET", f"/api/sessions/{sid}")
            if r.status_code != 200:
                raise PersonFailed(f"state: {r.status_code} {r.text[:200]}")
            s = r.json()
            if s["state"] in ("asking", "done"):
                return s
            if s["state"] == "error":
                raise PersonFailed(f"session error: {s['error']}")
            await asyncio.sleep(0.25)
            endpoint = "poll"

    # -- one session -------------------------------------------------------------------------
    async def run(self) -> None:
        cfg, led = self.cfg, self.ledger
        led.started += 1
        body = {"style": self.rng.choice(STYLES), **cfg.session_body}
        t0 = time.perf_counter()
        r = await self.request("create", "POST", "/api/sessions", ok=(201,), json=body)
        if r.status_code != 201:
            raise PersonFailed(f"create: {r.status_code} {r.text[:200]}")
        sid = r.json()["id"]
        led.sessions.add(sid)
        s = await self.state(sid)
        self.stats.record("ready", time.perf_counter() - t0, 200)
        answered = 0
        side: list[asyncio.Task] = []  # the summary still loading
        again = False

        async def summaries() -> None:
            # like the page: one request at a time, and one more if another point was passed
            nonlocal again
            while True:
                again = False
                await self.request("summary", "GET", f"/api/sessions/{sid}/summary")
                if not again:
                    return

        try:
            while answered < cfg.questions and s["state"] == "asking":
                await asyncio.sleep(cfg.think * self.rng.uniform(0.5, 1.5))
                s, acked = await self.answer(sid, s)
                answered += acked
                if acked and answered < cfg.questions and self.rng.random() < cfg.undo:
                    r = await self.call("undo", "POST", f"/api/sessions/{sid}/undo", json={})  # once
                    if r is not None and r.status_code == 200:
                        led.undos[sid] += 1
                        answered -= 1
                        s = r.json()
                if cfg.summary and s.get("show_summary"):
                    # like the page: the panel loads while the person goes on answering
                    if side and not side[-1].done():
                        again = True
                    else:
                        side.append(asyncio.create_task(summaries()))
                if cfg.reload and s["state"] == "asking":
                    s = await self.state(sid)
            await self.request("results", "GET", f"/api/sessions/{sid}/result")
            await self.request("result page", "GET", f"/s/{sid}/result", headers={"Accept": "text/html"})
            for fmt in cfg.formats:
                r = await self.request(f"export {fmt}", "GET", f"/sessions/{sid}/export?format={fmt}")
                if r.status_code != 200:
                    raise PersonFailed(f"export {fmt}: {r.status_code} {r.text[:200]}")
            await asyncio.gather(*side)
        finally:
            for t in side:
                t.cancel()
        led.finished += 1

    async def answer(self, sid: str, s: dict) -> tuple[dict, int]:
        """Answer the question on screen; (new state, 1 if acknowledged else 0)."""
        q = s["question"]
        u = self.rng.random()
        if u < self.cfg.skip:
            body = {"question_id": q["id"], "action": "skip"}
        elif u < self.cfg.skip + self.cfg.no_preference:
            body = {"question_id": q["id"], "action": "no_preference"}
        else:
            body = {
                "question_id": q["id"],
                "action": "choose",
                "position": self.rng.randrange(len(q["options"])),
            }
        first = time.monotonic()
        while True:
            self.ledger.sent.append((sid, q["id"], body["action"], body.get("position")))
            sent = time.monotonic()
            r = await self.call("answer", "POST", f"/api/sessions/{sid}/answer", json=body)
            if r is not None and r.status_code == 200:
                self.ledger.acks.append(
                    Ack(sid, q["id"], body["action"], body.get("position"), first, time.monotonic(), sent)
                )
                return r.json(), 1
            if r is not None and r.status_code == 429:
                await asyncio.sleep(min(5.0, float(r.headers.get("retry-after", "1"))))
                continue
            if r is not None and r.status_code < 500 and r.status_code not in (409,):
                raise PersonFailed(f"answer: {r.status_code} {r.text[:200]}")
            if r is None and not self.cfg.retry_forever:
                raise PersonFailed("answer: connection dropped")
            # 409 (answered meanwhile, still restoring) or the server went away: look again
            if r is None or r.status_code >= 500:
                await asyncio.sleep(0.1)
            s = await self.state(sid, endpoint="question")
            if s["state"] != "asking" or s["question"]["id"] != q["id"]:
                return s, 0  # it was recorded before the server went away (not acknowledged)


class PersonFailed(Exception):
    """A simulated person could not go on."""


async def crowd(
    url: str,
    people: int,
    cfg: PersonConfig,
    stats: Stats,
    ledger: Ledger,
    *,
    seconds: float,
    ramp: float,
    repeat: bool,
    seed: int = 0,
) -> None:
    """``people`` people, starting spread over ``ramp`` seconds; with ``repeat`` each leaves and
    a new one arrives after every session, until ``seconds`` have passed (then people still
    answering are stopped and counted as cut)."""
    deadline = time.monotonic() + seconds

    async def slot(i: int) -> None:
        await asyncio.sleep(ramp * i / max(people, 1))
        n = 0
        while time.monotonic() < deadline:
            person = Person(i, url, cfg, stats, ledger, seed=seed * 1_000_003 + i * 1009 + n)
            try:
                await person.run()
            except PersonFailed as exc:
                ledger.failed.append(str(exc))
            finally:
                await person.close()
            n += 1
            if not repeat:
                return

    tasks = [asyncio.create_task(slot(i)) for i in range(people)]
    done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    ledger.cut += ledger.started - ledger.finished - len(ledger.failed)
    for t in done:
        if t.exception() is not None:
            ledger.failed.append(repr(t.exception()))
