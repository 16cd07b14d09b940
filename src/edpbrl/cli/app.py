"""``edpbrl serve`` (the web app) and ``edpbrl export`` (a stored session as a dataset)."""

from __future__ import annotations

import importlib
import sys

from ..app.sessions import DEFAULT_METHOD
from ..errors import EdpbrlError
from ..export import FORMATS
from ..personalizer import MAX_EPISODES
from ..store import STORES
from .options import (
    STDOUT,
    add_method_option,
    add_out_option,
    check_out,
    embedder_help,
    int_range,
    nonnegative_float,
    port_number,
    positive_float,
    positive_int,
)

APP_MODULES = ("fastapi", "uvicorn", "jinja2")  # what the 'app' extra installs


def store_help() -> str:
    """The store URL forms, from the store registry."""
    return "a SQLite file path, or " + ", ".join(f"{n}://..." for n in STORES)


def require_app_extra() -> None:
    """One-line error naming the extra to install when the web app's libraries are missing."""
    for name in APP_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise EdpbrlError(
                f"edpbrl serve needs the 'app' extra ({name} is missing): pip install 'edpbrl[app]'"
            ) from None


def cmd_serve(a) -> int:
    require_app_extra()
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
        prior=a.prior,
        max_questions=a.questions or None,
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
        image_dir=a.images,
        method=a.method,
    )
    return 0


def cmd_export(a) -> int:
    from ..export import export_bytes, export_session

    fmt = FORMATS.get(a.format)
    why = None if fmt.text else f"the {a.format} format is binary or several files; give a file path"
    out = check_out(a.out, force=a.force, companions=fmt.companions, stdout=why)
    if out == STDOUT:
        sys.stdout.buffer.write(export_bytes(a.db, a.session, a.format).data)
        sys.stdout.flush()
        return 0
    for path in export_session(a.db, a.session, a.format, out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    sv = sub.add_parser("serve", help="the web app for real people (needs the 'app' extra)")
    sv.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sv.add_argument("--port", type=port_number, default=8000, help="port, 1..65535 (default 8000)")
    sv.add_argument("--db", default="edpbrl.sqlite", help=f"the store: {store_help()}")
    sv.add_argument("--generator", help="local Stable-Diffusion-style diffusers directory")
    sv.add_argument("--vocab", help="vocabulary directory or YAML")
    sv.add_argument("--k", type=int_range(2), default=4, help="options per question K (default 4)")
    sv.add_argument(
        "--episodes",
        type=int_range(1, MAX_EPISODES),
        help=f"episodes planned per session, 1..{MAX_EPISODES} (default: just enough for --questions)",
    )
    sv.add_argument(
        "--questions",
        type=int_range(0, 10_000),
        default=30,
        help="the most questions a session asks before its results (default 30; 0: every planned "
        "question); people can ask for more",
    )
    sv.add_argument(
        "--prior",
        default="packaged",
        help="where estimates start: packaged (the prior fitted on the packaged population, moved "
        "by the words a person types; default), none (the flat prior) or a file from `edpbrl prior fit`",
    )
    add_method_option(sv, repeatable=False, default=DEFAULT_METHOD)
    sv.add_argument(
        "--embedder",
        default="minilm:auto",
        help=embedder_help(default="minilm:auto: bfloat16 where the CPU or GPU computes it natively"),
    )
    sv.add_argument("--steps", type=positive_int, help="diffusion inference steps (default: the backend's)")
    sv.add_argument("--size", type=positive_int, help="image size in pixels (default: the backend's)")
    sv.add_argument("--guidance", type=nonnegative_float, help="classifier-free guidance scale ≥ 0")
    sv.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name to accept besides the loopback names and --host (repeatable; '*': any); "
        "other Host headers get 400 (DNS rebinding)",
    )
    sv.add_argument(
        "--max-live",
        type=int_range(1),
        default=1000,
        help="sessions held in memory (default 1000); "
        "beyond it the least recently used are dropped and restored when touched, and "
        "new sessions get 429 when none can be dropped",
    )
    sv.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=300.0,
        help="seconds before an idle session is dropped from memory (default 300; it is restored "
        "from the store when touched again)",
    )
    sv.add_argument("--threads", type=int_range(1), default=16, help="request threads (default 16)")
    sv.add_argument(
        "--heavy-threads",
        type=int_range(1),
        help="summaries, results and exports computed at once (default: the cores; they run niced)",
    )
    sv.add_argument(
        "--heavy-nice",
        type=int_range(0, 19),
        default=10,
        help="how much lower the heavy threads' OS priority is than answering (default 10; 0: the same, "
        "better when the machine is shared with other busy programs)",
    )
    sv.add_argument(
        "--rate",
        type=nonnegative_float,
        default=20.0,
        help="requests per second per client address (default 20; 0: no limit)",
    )
    sv.add_argument(
        "--burst", type=positive_float, default=60.0, help="request burst per client address (default 60)"
    )
    sv.add_argument(
        "--create-rate",
        type=nonnegative_float,
        default=20.0,
        help="new sessions per minute per client address (default 20; 0: no limit)",
    )
    sv.add_argument(
        "--create-burst",
        type=positive_float,
        default=20.0,
        help="new-session burst per client address (default 20)",
    )
    sv.add_argument(
        "--max-body",
        type=int_range(1024),
        default=64 * 1024,
        help="largest request body in bytes (default 65536)",
    )
    sv.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="JSON logs on stderr; info has one access line per request (default info)",
    )
    sv.add_argument(
        "--images",
        help="directory for rendered images (default: <db stem>-images/ beside a SQLite file, "
        "~/.cache/edpbrl/images for PostgreSQL)",
    )
    sv.set_defaults(fn=cmd_serve)

    ex = sub.add_parser("export", help="export a web-app session")
    ex.add_argument(
        "session",
        help="the session: its token (from its link) or the public id in an export's 'session' field "
        "(new tokens never start with '-'; an older one that does goes after '--': export -- -TOKEN)",
    )
    ex.add_argument(
        "--format",
        default="jsonl",
        choices=list(FORMATS),
        help="; ".join(f"{name}: {FORMATS.help(name)}" for name in FORMATS),
    )
    ex.add_argument("--db", default="edpbrl.sqlite", help=f"the app's store: {store_help()}")
    add_out_option(
        ex,
        "output path; '-' writes the main file to standard output (text formats: "
        + ", ".join(n for n in FORMATS if FORMATS.get(n).text)
        + ")",
        required=True,
    )
    ex.set_defaults(fn=cmd_export)
