"""``edpbrl serve`` (the web app) and ``edpbrl export`` (a stored session as a dataset)."""

from __future__ import annotations

from ..export import FORMATS
from ..store import STORES
from .options import embedder_help


def store_help() -> str:
    """The store URL forms, from the store registry."""
    return "a SQLite file path, or " + ", ".join(f"{n}://..." for n in STORES)


def cmd_serve(a) -> int:
    from ..app.middleware import Protection
    from ..app.server import serve

    protection = Protection(
        max_body=a.max_body,
        rate=a.rate,
        burst=a.burst,
        create_rate=a.create_rate / 60,
        create_burst=a.create_burst,
    )
    serve(
        host=a.host,
        port=a.port,
        db=a.db,
        generator=a.generator,
        vocab=a.vocab,
        k=a.k,
        episodes=a.episodes,
        embedder=a.embedder,
        steps=a.steps,
        size=a.size,
        guidance=a.guidance,
        allowed_hosts=a.allowed_host,
        protection=protection,
        max_live=a.max_live,
        idle_seconds=a.idle_timeout,
        threads=a.threads,
        heavy_threads=a.heavy_threads,
        heavy_nice=a.heavy_nice,
        log_level=a.log_level,
    )
    return 0


def cmd_export(a) -> int:
    from ..export import export_session

    export_session(a.db, a.session, a.format, a.out)
    return 0


def add_parsers(sub) -> None:
    sv = sub.add_parser("serve", help="the web app for real people")
    sv.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--db", default="edpbrl.sqlite", help=f"the store: {store_help()}")
    sv.add_argument("--generator", help="local Stable-Diffusion-style diffusers directory")
    sv.add_argument("--vocab", help="vocabulary directory or YAML")
    sv.add_argument("--k", type=int, default=4, help="options per question K (default 4)")
    sv.add_argument("--episodes", type=int, default=30, help="episodes per session (default 30)")
    sv.add_argument("--embedder", default="minilm", help=embedder_help())
    sv.add_argument("--steps", type=int, help="diffusion inference steps (default: the backend's)")
    sv.add_argument("--size", type=int, help="image size in pixels (default: the backend's)")
    sv.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    sv.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name to accept besides the loopback names and --host (repeatable; '*': any); "
        "other Host headers get 400 (DNS rebinding)",
    )
    sv.add_argument(
        "--max-live",
        type=int,
        default=1000,
        help="sessions held in memory (default 1000); "
        "beyond it the least recently used are dropped and restored when touched, and "
        "new sessions get 429 when none can be dropped",
    )
    sv.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        help="seconds before an idle session is dropped from memory (default 300; it is restored "
        "from the store when touched again)",
    )
    sv.add_argument("--threads", type=int, default=16, help="request threads (default 16)")
    sv.add_argument(
        "--heavy-threads",
        type=int,
        help="summaries, results and exports computed at once (default: cores - 1, at least 1)",
    )
    sv.add_argument(
        "--heavy-nice",
        type=int,
        default=10,
        help="how much lower the heavy threads' OS priority is than answering (default 10; 0: the same, "
        "better when the machine is shared with other busy programs)",
    )
    sv.add_argument(
        "--rate",
        type=float,
        default=20.0,
        help="requests per second per client address (default 20; 0: no limit)",
    )
    sv.add_argument("--burst", type=float, default=60.0, help="request burst per client address (default 60)")
    sv.add_argument(
        "--create-rate",
        type=float,
        default=20.0,
        help="new sessions per minute per client address (default 20; 0: no limit)",
    )
    sv.add_argument(
        "--create-burst", type=float, default=20.0, help="new-session burst per client address (default 20)"
    )
    sv.add_argument(
        "--max-body", type=int, default=64 * 1024, help="largest request body in bytes (default 65536)"
    )
    sv.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="JSON logs on stderr; info has one access line per request (default info)",
    )
    sv.set_defaults(fn=cmd_serve)

    ex = sub.add_parser("export", help="export a web-app session")
    ex.add_argument("session", help="session id")
    ex.add_argument(
        "--format",
        default="jsonl",
        choices=list(FORMATS),
        help="; ".join(f"{name}: {FORMATS.help(name)}" for name in FORMATS),
    )
    ex.add_argument("--db", default="edpbrl.sqlite", help=f"the app's store: {store_help()}")
    ex.add_argument("--out", required=True, help="output path")
    ex.set_defaults(fn=cmd_export)
