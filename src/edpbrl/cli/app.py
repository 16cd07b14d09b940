"""``edpbrl serve`` (the web app) and ``edpbrl export`` (a stored session as a dataset)."""

from __future__ import annotations

from ..export import FORMATS
from ..store import STORES
from .options import embedder_help


def store_help() -> str:
    """The store URL forms, from the store registry."""
    return "a SQLite file path, or " + ", ".join(f"{n}://..." for n in STORES)


def cmd_serve(a) -> int:
    from ..app.server import serve

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
        image_dir=a.images,
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
        "--images",
        help="directory for rendered images (default: <db stem>-images/ beside a SQLite file, "
        "~/.cache/edpbrl/images for PostgreSQL)",
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
