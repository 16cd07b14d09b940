"""``edpbrl bench``: benchmarks that print figures — ``design`` (the solver), ``app`` (load and soak
tests of the web app) and ``crash`` (SIGKILLs under load)."""

from __future__ import annotations

import json

from . import design
from .options import add_json_option, embedder_help, int_range, print_json


def _server_args(a) -> list[str]:
    args = list(a.server_arg or [])
    for flag in ("vocab", "embedder", "k", "episodes"):
        value = getattr(a, f"server_{flag}", None)
        if value is not None:
            args += [f"--{flag}", str(value)]
    return args


def cmd_bench_app(a) -> int:
    from ..app.bench import LoadConfig, run_load
    from ..app.bench.load import format_report

    cfg = LoadConfig(
        people=a.people,
        questions=a.questions,
        think=a.think,
        seconds=a.seconds,
        ramp=a.ramp,
        soak=a.soak,
        url=a.url,
        pid=a.pid,
        db=a.db,
        server_args=_server_args(a),
        summary=not a.no_summary,
        reload=not a.no_reload,
        seed=a.seed,
    )
    report = run_load(cfg)
    if a.json:
        print_json(report)
    else:
        print(format_report(report))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def cmd_bench_crash(a) -> int:
    from ..app.bench import CrashConfig, run_crash
    from ..app.bench.crash import format_crash

    cfg = CrashConfig(
        kills=a.kills,
        people=a.people,
        questions=a.questions,
        think=a.think,
        gap=(a.min_gap, a.max_gap),
        after=a.after,
        server_args=_server_args(a),
        seed=a.seed,
    )
    report = run_crash(cfg)
    print_json(report) if a.json else print(format_crash(report))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def _server_options(p) -> None:
    g = p.add_argument_group("the server started for the test (loopback, a fresh store)")
    g.add_argument("--vocab", dest="server_vocab", help="vocabulary (default: packaged)")
    g.add_argument("--embedder", dest="server_embedder", help=embedder_help())
    g.add_argument("--k", dest="server_k", type=int, help="options per question (default 4)")
    g.add_argument("--episodes", dest="server_episodes", type=int, help="episodes per session (default 30)")
    g.add_argument(
        "--server-arg",
        action="append",
        metavar="ARG",
        help="another `edpbrl serve` option, e.g. --server-arg=--heavy-threads --server-arg=2 (repeatable)",
    )


def cmd_bench_encoder(a) -> int:
    if a.memory:
        return _bench_encoder_memory(a)
    from ..experiments.bench_encoder import run

    rows = run(specs=a.spec or ["minilm", "minilm:bf16"], batches=a.batch or [12, 120], texts=a.texts)
    if a.json:
        print_json(rows)
        return 0
    print(f"{'encoder':<16}{'batch':>6}{'texts/s':>10}{'× first':>9}")
    for r in rows:
        print(f"{r['spec']:<16}{r['batch']:>6}{r['texts_per_second']:>10.1f}{r['ratio_to_first']:>9.2f}")
    return 0


def _bench_encoder_memory(a) -> int:
    from ..experiments.bench_encoder_memory import run

    rows = run(specs=a.spec or ["minilm", "minilm:bf16"], calls=a.memory)
    if a.json:
        print_json(rows)
        return 0
    head = ("encoder", "path", "calls", "RSS start", "RSS end", "growth", "ms/text")
    print(f"{head[0]:<14}{head[1]:<14}{head[2]:>6}{head[3]:>11}{head[4]:>9}{head[5]:>8}{head[6]:>9}")
    for r in rows:
        mb = f"{r['rss_start_mb']:>8.0f} MB{r['rss_end_mb']:>6.0f} MB{r['growth_mb']:>5.0f} MB"
        print(f"{r['spec']:<14}{r['path']:<14}{r['calls']:>6}{mb}{r['ms_per_text']:>9.2f}")
    return 0


def cmd_bench_gains(a) -> int:
    from ..experiments.bench_gains import as_dicts, run

    rows = run(
        candidates=a.candidates,
        dim=a.dim,
        rank=a.rank,
        repeats=a.repeats,
        device=a.device,
        dtype=a.dtype,
        threads=a.threads,
    )
    if a.json:
        print_json(as_dicts(rows))
        return 0
    r0 = rows[0]
    print(
        f"{r0.candidates} candidates of rank {r0.rank}, d = {r0.dim}, {r0.device} {r0.dtype}, "
        f"{r0.threads} thread(s); median of {a.repeats}"
    )
    print(f"{'gain':<10}{'ours s':>9}{'direct s':>10}{'speedup':>9}{'max rel diff':>14}")
    for r in rows:
        print(
            f"{r.gain:<10}{r.seconds:>9.3f}{r.direct_seconds:>10.3f}{r.speedup:>9.2f}"
            f"{r.max_relative_difference:>14.1e}"
        )
    return 0


def add_parsers(sub) -> None:
    b = sub.add_parser("bench", help="benchmarks that print figures")
    bsub = b.add_subparsers(dest="bench", required=True)
    design.add_bench_parser(bsub)
    be = bsub.add_parser("encoder", help="encoder throughput by spec and batch size on this machine")
    be.add_argument(
        "--spec", action="append", help="an encoder spec; repeatable (default minilm, minilm:bf16)"
    )
    be.add_argument(
        "--batch", action="append", type=int_range(1, 4096), help="batch size; repeatable (default 12, 120)"
    )
    be.add_argument("--texts", type=int_range(1, 100_000), default=240, help="prompts timed (default 240)")
    be.add_argument(
        "--memory",
        type=int_range(1, 100_000),
        metavar="CALLS",
        help="instead: resident memory over CALLS calls of 1-40 prompts, one fresh process per row, "
        "bucketed shapes against the model's own encode",
    )
    add_json_option(be)
    be.set_defaults(fn=cmd_bench_encoder)

    bg = bsub.add_parser(
        "gains",
        help="the adaptive designs' pool gains per plan (variance, risk) against the direct formulas",
    )
    bg.add_argument("--candidates", type=int_range(1, 100_000), default=600, help="pool size (default 600)")
    bg.add_argument("--dim", type=int_range(2, 8192), default=384, help="feature dimension (default 384)")
    bg.add_argument(
        "--rank", type=int_range(1, 1024), default=24, help="columns per candidate: steps × K (default 24)"
    )
    bg.add_argument("--repeats", type=int_range(1, 1000), default=5, help="timed calls, median (default 5)")
    bg.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    bg.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="(default float64)")
    bg.add_argument("--threads", type=int_range(1, 1024), help="torch threads (default: torch's)")
    add_json_option(bg)
    bg.set_defaults(fn=cmd_bench_gains)

    ba = bsub.add_parser(
        "app",
        help="load or soak test of the web app on loopback: throughput, latency percentiles, memory, "
        "answers acknowledged vs stored",
    )
    ba.add_argument("--people", type=int, default=50, help="people at once (default 50, at most 500)")
    ba.add_argument("--questions", type=int, default=30, help="questions each person answers (default 30)")
    ba.add_argument(
        "--think", type=float, default=1.0, help="mean think time per question in s (default 1.0)"
    )
    ba.add_argument("--seconds", type=float, default=300.0, help="time limit in s (default 300)")
    ba.add_argument(
        "--ramp",
        type=float,
        help="seconds over which people arrive (default: questions × think, steady arrivals)",
    )
    ba.add_argument(
        "--soak",
        type=float,
        help="soak for this many seconds instead: people come and go (a new one after each session)",
    )
    ba.add_argument("--url", help="test a running server instead (loopback only; needs --db)")
    ba.add_argument("--pid", type=int, help="with --url: the server's process id, for memory figures")
    ba.add_argument("--db", help="the store: with --url the server's; else where the started server writes")
    ba.add_argument("--no-summary", action="store_true", help="never fetch the learned summary")
    ba.add_argument("--no-reload", action="store_true", help="do not GET the state after each answer")
    ba.add_argument("--seed", type=int, default=0, help="random seed of the simulated people")
    ba.add_argument("--out", help="also write the JSON report here")
    _server_options(ba)
    ba.add_argument("--json", action="store_true", help="print the report as JSON")
    ba.set_defaults(fn=cmd_bench_app)

    bc = bsub.add_parser(
        "crash",
        help="SIGKILL the server at random moments under load; verify every acknowledged answer",
    )
    bc.add_argument("--kills", type=int, default=3, help="SIGKILLs (default 3, at most 50)")
    bc.add_argument("--people", type=int, default=20, help="people at once (default 20)")
    bc.add_argument("--questions", type=int, default=30, help="questions per session (default 30)")
    bc.add_argument("--think", type=float, default=0.5, help="mean think time in s (default 0.5)")
    bc.add_argument("--min-gap", type=float, default=5.0, help="fewest seconds between kills (default 5)")
    bc.add_argument("--max-gap", type=float, default=15.0, help="most seconds between kills (default 15)")
    bc.add_argument(
        "--after", type=float, default=10.0, help="seconds of load after the last restart (default 10)"
    )
    bc.add_argument("--seed", type=int, default=0, help="random seed (kill times, people)")
    bc.add_argument("--out", help="also write the JSON report here")
    _server_options(bc)
    bc.add_argument("--json", action="store_true", help="print the report as JSON")
    bc.set_defaults(fn=cmd_bench_crash)
