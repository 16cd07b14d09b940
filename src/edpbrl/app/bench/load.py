"""``edpbrl bench app``: many simulated people against one server; throughput, latency
percentiles per endpoint, server memory over time, dropped connections, and answers acknowledged
vs stored."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .people import Ledger, PersonConfig, Stats, crowd
from .server import BenchError, ServerProcess, check_loopback, cpu_seconds, health, rss_mb
from .verify import verify

MAX_PEOPLE, MAX_SECONDS = 500, 4 * 3600


@dataclass
class LoadConfig:
    """A bounded load (or, with ``soak``, soak) test; see ``edpbrl bench app --help``."""

    people: int = 50
    questions: int = 30
    think: float = 1.0
    seconds: float = 300.0
    ramp: float | None = None  # default: one session's answering time (steady arrivals)
    soak: float | None = None  # seconds of people coming and going (replaces ``seconds``)
    url: str | None = None  # a running server (loopback only); default: start one
    pid: int | None = None  # its process, for memory figures
    db: str | None = None  # the store (default: a fresh one in a temporary directory)
    server_args: list[str] = field(default_factory=list)  # extra `edpbrl serve` options
    k: int | None = None
    episodes: int | None = None
    summary: bool = True
    reload: bool = True
    seed: int = 0
    sample_every: float = 2.0

    def check(self) -> None:
        if not 1 <= self.people <= MAX_PEOPLE:
            raise BenchError(f"people must be in 1..{MAX_PEOPLE}")
        span = self.soak if self.soak else self.seconds
        if not 0 < span <= MAX_SECONDS:
            raise BenchError(f"the run must last between 0 and {MAX_SECONDS} s")
        if self.questions < 1 or self.think < 0:
            raise BenchError("questions must be ≥ 1 and think ≥ 0")


class MemorySampler:
    """Samples a process's RSS every ``every`` seconds in a thread: ``series`` [(t, MB)]; and its
    CPU time: ``cpu`` (seconds used since :meth:`start`)."""

    def __init__(self, pid_of, every: float = 2.0):
        self.pid_of, self.every = pid_of, every
        self.series: list[tuple[float, float]] = []
        self.cpu: float | None = None
        self._cpu0: float | None = None
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            pid = self.pid_of()
            mb = rss_mb(pid) if pid else None
            if mb is not None:
                self.series.append((round(time.monotonic() - self._t0, 1), round(mb, 1)))
            cpu = cpu_seconds(pid) if pid else None
            if cpu is not None:
                self._cpu0 = cpu if self._cpu0 is None else self._cpu0
                self.cpu = round(cpu - self._cpu0, 1)
            self._stop.wait(self.every)

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join(5)
        return self.series


def memory_summary(series: list[tuple[float, float]], flat_from: float = 0.5) -> dict[str, Any]:
    """Start, peak and end RSS (MB), and the growth rate (MB per minute, least squares) over the
    run after ``flat_from`` of it: a flat soak has a slope near zero."""
    if not series:
        return {}
    t = np.array([s[0] for s in series])
    mb = np.array([s[1] for s in series])
    tail = t >= t[-1] * flat_from
    slope = float(np.polyfit(t[tail], mb[tail], 1)[0] * 60) if tail.sum() >= 3 else None
    return {
        "start_mb": float(mb[0]),
        "peak_mb": float(mb.max()),
        "end_mb": float(mb[-1]),
        "slope_mb_per_min_second_half": None if slope is None else round(slope, 2),
        "samples": len(series),
    }


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_load(cfg: LoadConfig, *, progress=None) -> dict[str, Any]:
    """Run the test; the report (see :func:`format_report`)."""
    from ...export import FORMATS

    cfg.check()
    tmp = None
    server = None
    if cfg.url is None:
        tmp = tempfile.TemporaryDirectory(prefix="edpbrl-bench-")
        db = cfg.db or str(Path(tmp.name) / "bench.sqlite")
        server = ServerProcess(Path(db), Path(tmp.name) / "server.log", cfg.server_args)
        server.start()
        t_up = server.wait_up()
        url, pid_of = server.url, (lambda: server.pid)
    else:
        url = check_loopback(cfg.url)
        if cfg.db is None:
            raise BenchError("with --url, give --db (the server's store) to count stored answers")
        db, t_up = cfg.db, None
        pid_of = lambda: cfg.pid  # noqa: E731
        h = health(url)
        if h is None:
            raise BenchError(f"no server answers at {url}")
    body = {key: v for key, v in (("k", cfg.k), ("episodes", cfg.episodes)) if v is not None}
    pcfg = PersonConfig(
        questions=cfg.questions,
        think=cfg.think,
        formats=tuple(FORMATS),
        summary=cfg.summary,
        reload=cfg.reload,
        session_body=body,
    )
    stats, ledger = Stats(), Ledger()
    span = cfg.soak or cfg.seconds
    ramp = cfg.ramp if cfg.ramp is not None else min(span / 2, cfg.questions * cfg.think)
    load_before = loadavg()
    sampler = MemorySampler(pid_of, cfg.sample_every).start()
    t0 = time.monotonic()
    try:
        asyncio.run(
            crowd(
                url,
                cfg.people,
                pcfg,
                stats,
                ledger,
                seconds=span,
                ramp=ramp,
                repeat=bool(cfg.soak),
                seed=cfg.seed,
            )
        )
    finally:
        wall = time.monotonic() - t0
        series = sampler.stop()
        load_after = loadavg()
        log_tail = server.tail() if server is not None else ""
        if server is not None:
            server.stop()
    checks = verify(db, ledger, replay=True)
    requests = sum(len(v) for v in stats.latency.values())
    report = {
        "config": {
            "people": cfg.people,
            "questions": cfg.questions,
            "think_s": cfg.think,
            "ramp_s": ramp,
            "seconds": span,
            "soak": bool(cfg.soak),
            "server_args": cfg.server_args,
            "session": body,
        },
        "wall_s": round(wall, 1),
        "server_up_s": None if t_up is None else round(t_up, 1),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "people": {
            "started": ledger.started,
            "reached_results_and_exports": ledger.finished,
            "cut_by_time_limit": ledger.cut,
            "failed": len(ledger.failed),
            "failures": ledger.failed[:10],
        },
        "throughput": {
            "requests_per_s": round(requests / wall, 2),
            "answers_per_s": round(len(ledger.acks) / wall, 2),
        },
        "server_cpu_s": sampler.cpu,
        "server_cpu_s_per_finished_person": (
            round(sampler.cpu / ledger.finished, 2) if sampler.cpu and ledger.finished else None
        ),
        "endpoints": stats.summary(),
        "errors": {
            "5xx": stats.count(lambda c: c >= 500),
            "429": stats.count(lambda c: c == 429),
            "dropped_connections": sum(stats.dropped.values()),
            "dropped_by_endpoint": dict(stats.dropped),
            "timeouts": sum(stats.timeouts.values()),
        },
        "memory": {**memory_summary(series), "series": series},
        "answers": checks,
    }
    if ledger.failed and log_tail:
        report["server_log_tail"] = log_tail[-1500:]
    if tmp is not None:
        tmp.cleanup()
    return report


def format_report(r: dict[str, Any]) -> str:
    """The report as text."""
    c, p, a, e, m = r["config"], r["people"], r["answers"], r["errors"], r["memory"]
    lines = [
        f"{c['people']} people × {c['questions']} questions, think {c['think_s']} s, "
        f"ramp {c['ramp_s']:.0f} s, "
        f"{'soak ' if c['soak'] else ''}{c['seconds']:.0f} s limit; wall {r['wall_s']} s; "
        f"load average {r['loadavg_before']} → {r['loadavg_after']}",
        f"people: {p['reached_results_and_exports']}/{p['started']} reached results and every export, "
        f"{p['cut_by_time_limit']} cut by the time limit, {p['failed']} failed",
        f"throughput: {r['throughput']['requests_per_s']} requests/s, "
        f"{r['throughput']['answers_per_s']} answers/s",
        f"{'endpoint':<18}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}  statuses",
    ]
    for name, s in r["endpoints"].items():
        if s.get("n"):
            lines.append(
                f"{name:<18}{s['n']:>7}{s['p50']:>10}{s['p95']:>10}{s['p99']:>10}{s['max']:>10}"
                f"  {s['status']}"
            )
        else:
            lines.append(f"{name:<18}{0:>7}{'':>40}  {s['status']}")
    lines.append(
        f"errors: {e['5xx']} 5xx, {e['429']} 429, {e['dropped_connections']} dropped connections, "
        f"{e['timeouts']} timeouts"
    )
    if r.get("server_cpu_s") is not None:
        lines.append(
            f"server CPU: {r['server_cpu_s']} s in all, "
            f"{r['server_cpu_s_per_finished_person']} s per person who finished"
        )
    if m:
        lines.append(
            f"server RSS: start {m['start_mb']:.0f} MB, peak {m['peak_mb']:.0f} MB, "
            f"end {m['end_mb']:.0f} MB, "
            f"slope over the second half {m['slope_mb_per_min_second_half']} MB/min"
        )
    lines.append(
        f"answers: {a['acknowledged']} acknowledged, {a['stored']} stored, {a['lost']} lost, "
        f"{a['duplicated']} duplicated, {a['stored_not_acknowledged']} stored but not acknowledged; "
        f"undos {a['undos_acknowledged']} acknowledged / {a['undos_stored']} stored; "
        f"{len(a['replay_errors'])} sessions fail to replay"
    )
    return "\n".join(lines)
