"""``edpbrl bench crash``: SIGKILL the server at random moments while people answer, restart it on
the same port and store, and check that every acknowledged answer survived, exactly once; report
how long people waited for their next accepted answer."""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .load import loadavg
from .people import Ledger, PersonConfig, Stats, crowd, percentiles
from .server import BenchError, ServerProcess
from .verify import verify


@dataclass
class CrashConfig:
    kills: int = 3
    people: int = 20
    questions: int = 30
    think: float = 0.5
    gap: tuple[float, float] = (5.0, 15.0)  # seconds between (re)start and the next kill
    after: float = 10.0  # seconds of load after the last restart
    server_args: list[str] = field(default_factory=list)
    db: str | None = None
    seed: int = 0

    def check(self) -> None:
        if not 1 <= self.kills <= 50:
            raise BenchError("kills must be in 1..50")
        if not 1 <= self.people <= 500:
            raise BenchError("people must be in 1..500")
        if not 0 < self.gap[0] <= self.gap[1] <= 600:
            raise BenchError("the gap between kills must be 0 < min ≤ max ≤ 600 s")


def _recoveries(ledger: Ledger, kills: list[dict]) -> tuple[list[float], list[float]]:
    """For every session answered before a kill: seconds from when its person (re)tried with the
    server back up, and from the kill, to the session's next acknowledged answer — the first one
    whose request was sent after the killed process was gone (so the new process answered it; it
    may be acknowledged before the killer's poll notices the server is back: 0 s from then)."""
    by_sid: dict[str, list] = {}
    for a in sorted(ledger.acks, key=lambda a: a.at):
        by_sid.setdefault(a.sid, []).append(a)
    from_up, from_kill = [], []
    for k in kills:
        for acks in by_sid.values():
            if not any(a.at < k["at"] for a in acks):
                continue  # the session began after this kill
            nxt = next((a for a in acks if a.sent > k["dead_at"]), None)
            if nxt is None:
                continue
            if k.get("next_at") is not None and nxt.at > k["next_at"]:
                continue
            from_up.append(max(0.0, nxt.at - max(nxt.first_try, k["up_at"])))
            from_kill.append(nxt.at - max(nxt.first_try, k["at"]))
    return from_up, from_kill


def run_crash(cfg: CrashConfig) -> dict[str, Any]:
    cfg.check()
    rng = random.Random(cfg.seed)
    tmp = tempfile.TemporaryDirectory(prefix="edpbrl-crash-")
    db = Path(cfg.db or Path(tmp.name) / "crash.sqlite")
    server = ServerProcess(db, Path(tmp.name) / "server.log", cfg.server_args)
    server.start()
    first_up = server.wait_up()
    pcfg = PersonConfig(questions=cfg.questions, think=cfg.think, undo=0.0, retry_forever=True, reload=False)
    stats, ledger = Stats(), Ledger()
    kills: list[dict] = []
    total = sum(rng.uniform(*cfg.gap) for _ in range(cfg.kills)) + cfg.after + 600
    done = threading.Event()
    load_before = loadavg()

    def killer() -> None:
        for _ in range(cfg.kills):
            if done.wait(rng.uniform(*cfg.gap)):
                return
            at = time.monotonic()
            server.kill()  # (returns once the process is gone)
            dead_at = time.monotonic()
            if kills:
                kills[-1]["next_at"] = at
            server.start()
            up = server.wait_up(ready=False)  # accepting requests again
            up_at = time.monotonic()
            ready = server.wait_up(ready=True)
            kills.append(
                {
                    "at": at,
                    "dead_at": dead_at,
                    "up_at": up_at,
                    "restart_s": round(up, 2),
                    "ready_s": round(ready, 2),
                }
            )
        done.wait(cfg.after)
        stop_people.set()

    stop_people = threading.Event()

    async def main() -> None:
        people = asyncio.create_task(
            crowd(
                server.url,
                cfg.people,
                pcfg,
                stats,
                ledger,
                seconds=total,
                ramp=cfg.think * 4,
                repeat=True,
                seed=cfg.seed,
            )
        )
        while not stop_people.is_set() and not people.done():
            await asyncio.sleep(0.2)
        people.cancel()
        await asyncio.gather(people, return_exceptions=True)

    t = threading.Thread(target=killer, daemon=True)
    t0 = time.monotonic()
    t.start()
    try:
        asyncio.run(main())
    finally:
        done.set()
        t.join(60)
        server.stop()
    wall = time.monotonic() - t0
    checks = verify(str(db), ledger, replay=True)
    from_up, from_kill = _recoveries(ledger, kills)
    report = {
        "config": {
            "kills": cfg.kills,
            "people": cfg.people,
            "think_s": cfg.think,
            "gap_s": list(cfg.gap),
            "server_args": cfg.server_args,
        },
        "wall_s": round(wall, 1),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "first_start_s": round(first_up, 2),
        "kills": [{"restart_s": k["restart_s"], "ready_s": k["ready_s"]} for k in kills],
        "next_accepted_answer": {
            "from_server_back_s": {k: (v / 1000 if k != "n" else v) for k, v in percentiles(from_up).items()},
            "from_kill_s": {k: (v / 1000 if k != "n" else v) for k, v in percentiles(from_kill).items()},
        },
        "people": {
            "started": ledger.started,
            "sessions_finished": ledger.finished,
            "failed": len(ledger.failed),
            "failures": ledger.failed[:10],
        },
        "errors": {
            "5xx": stats.count(lambda c: c >= 500),
            "dropped_connections": sum(stats.dropped.values()),
        },
        "answers": checks,
    }
    tmp.cleanup()
    return report


def format_crash(r: dict[str, Any]) -> str:
    a, n = r["answers"], r["next_accepted_answer"]
    restarts = ", ".join(f"{k['restart_s']:.1f}/{k['ready_s']:.1f}" for k in r["kills"])
    fu, fk = n["from_server_back_s"], n["from_kill_s"]

    def fmt(d):
        return (
            "no data"
            if not d.get("n")
            else f"p50 {d['p50']:.2f} s, p95 {d['p95']:.2f} s, max {d['max']:.2f} s (n={d['n']})"
        )

    return "\n".join(
        [
            f"{len(r['kills'])} SIGKILLs under load ({r['config']['people']} people, "
            f"think {r['config']['think_s']} s); "
            f"wall {r['wall_s']} s; load average {r['loadavg_before']} → {r['loadavg_after']}",
            f"restart: process accepting / ready (s): {restarts} (first start {r['first_start_s']} s)",
            f"next accepted answer, from the server being back: {fmt(fu)}",
            f"next accepted answer, from the kill: {fmt(fk)}",
            f"answers: {a['acknowledged']} acknowledged, {a['stored']} stored, {a['lost']} lost, "
            f"{a['duplicated']} duplicated, {a['stored_not_acknowledged']} stored but not acknowledged; "
            f"{len(a['replay_errors'])} sessions fail to replay; {r['people']['failed']} people failed",
        ]
    )


__all__ = ["CrashConfig", "format_crash", "run_crash"]
