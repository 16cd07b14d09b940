"""The web app: :func:`create_app` wires the parts together; :func:`serve` runs it.

Pages: ``/`` (start), ``/s/{id}`` (questions), ``/s/{id}/result`` (personalised prompts).
API: ``/api/sessions[...]`` (see ``docs/app.md``). Export: ``/sessions/{id}/export?format=...``.
A session id is an unguessable token; it is the only credential, so every route checks that the
question or image asked for belongs to the session named in the path.

The parts: :mod:`.context` (what routes share), :mod:`.views` (what the app shows, no HTTP),
:mod:`.routes` (the routers), :mod:`.schemas` (request bodies), :mod:`.middleware` (headers and
errors), :mod:`.sessions` (live sessions).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..errors import EdpbrlError
from ..render import Generator, ImageCache, load_generator
from ..store import open_store
from ..version import __version__
from .context import AppContext
from .middleware import install_error_handlers, install_middleware
from .routes import api_router, pages_router
from .schemas import MAX_EPISODES, MAX_K
from .sessions import SessionManager

HERE = Path(__file__).parent


def default_image_dir() -> Path:
    """Where rendered images go when the store has no directory of its own (PostgreSQL):
    ``~/.cache/edpbrl/images``. Images are keyed by (prompt, seed, model), so server processes
    on one machine may share it."""
    return Path("~/.cache/edpbrl/images").expanduser()


def create_app(
    db_path,
    generator=None,
    vocab=None,
    k: int = 4,
    episodes: int = 30,
    embedder=None,
    *,
    image_dir=None,
    render_options: dict | None = None,
    factory=None,
) -> FastAPI:
    """The FastAPI app. ``generator``: ``None`` (text cards), a diffusers directory or a
    ``Generator``; ``vocab``: ``None`` (packaged) or a vocabulary path; ``embedder``: as for
    ``Personalizer.default``. ``image_dir`` defaults to the store's own directory (SQLite:
    ``<db stem>-images/`` beside the database), else :func:`default_image_dir`;
    ``render_options`` go to ``DiffusersGenerator`` (``steps``, ``size``, ``guidance``, ``device``).
    ``factory(k=, episodes=, progress=)`` replaces ``Personalizer.default`` (for experiments).
    """
    if not 2 <= int(k) <= MAX_K:
        raise EdpbrlError(f"k must be in 2..{MAX_K}, got {k}")
    if not 1 <= int(episodes) <= MAX_EPISODES:
        raise EdpbrlError(f"episodes must be in 1..{MAX_EPISODES}, got {episodes}")
    if isinstance(vocab, str | os.PathLike):  # (a Vocabulary object is used as is)
        from ..vocab import Vocabulary

        Vocabulary.load(vocab)  # fail now, with the vocabulary's own one-line message
        vocab = str(Path(vocab).expanduser().resolve())
    store = open_store(db_path)
    gen: Generator | None
    if isinstance(generator, str | os.PathLike):
        gen = load_generator(generator, **(render_options or {}))
    else:
        gen = generator
    if image_dir is None:
        image_dir = store.media_dir() or default_image_dir()
    manager = SessionManager(
        store, vocab=vocab, embedder=embedder, k=int(k), episodes=int(episodes), factory=factory
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    ctx = AppContext(
        store=store, manager=manager, generator=gen, cache=ImageCache(image_dir), templates=templates
    )

    app = FastAPI(title="edpbrl", version=__version__, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    app.state.store, app.state.manager, app.state.generator = store, manager, gen
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    install_middleware(app)
    install_error_handlers(app, templates)
    app.include_router(pages_router)
    app.include_router(api_router)
    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    db: str | os.PathLike = "edpbrl.sqlite",
    generator=None,
    vocab=None,
    k: int = 4,
    episodes: int = 30,
    embedder=None,
    *,
    steps: int | None = None,
    size: int | None = None,
    guidance: float | None = None,
    image_dir=None,
) -> None:
    """Run the app with uvicorn (blocking). Binds to 127.0.0.1 unless ``host`` says otherwise.

    The port is bound first, so a bad or busy port is a one-line error before anything else
    happens (see :func:`bind_port`).
    ``steps``/``size``/``guidance``: inference steps, image size and guidance scale for the
    ``generator`` directory (defaults 25, 512, 7.5; few-step models such as SD-Turbo want
    ``steps=1..4, guidance=0``). ``image_dir``: see :func:`create_app`.
    """
    import uvicorn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sock = bind_port(host, port)
    try:
        opts = {"steps": steps, "size": size, "guidance": guidance}
        opts = {key: v for key, v in opts.items() if v is not None}
        app = create_app(
            db,
            generator=generator,
            vocab=vocab,
            k=k,
            episodes=episodes,
            embedder=embedder,
            render_options=opts,
            image_dir=image_dir,
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"edpbrl: serving on {host}:{port}; anyone who can reach it can start sessions, and "
                "anyone holding a session link can answer it"
            )
        print(f"edpbrl: open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/", flush=True)
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    finally:
        sock.close()


def bind_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (uvicorn listens on it); one-line EdpbrlError for a
    port outside 1..65535, a port in use, a privileged port, or a host that is not this machine."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise EdpbrlError(f"port must be in 1..65535, got {port!r}")
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise EdpbrlError(f"cannot listen on host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EdpbrlError(f"port {port} is in use; choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise EdpbrlError(
                f"port {port} needs administrator rights; choose one ≥ 1024 with --port"
            ) from None
        raise EdpbrlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
