"""The web app: :func:`create_app` wires the parts together; :func:`serve` runs it.

Pages: ``/`` (start), ``/s/{id}`` (questions), ``/s/{id}/result`` (personalised prompts).
API: ``/api/sessions[...]`` (see ``docs/app.md``). Export: ``/sessions/{id}/export?format=...``.
A session id is an unguessable token; it is the only credential, so every route checks that the
question or image asked for belongs to the session named in the path.

The parts: :mod:`.context` (what routes share), :mod:`.views` (what the app shows, no HTTP),
:mod:`.routes` (the routers), :mod:`.schemas` (request bodies), :mod:`.middleware` (protection,
logs and errors), :mod:`.sessions` (live sessions), :mod:`.logs` (the server's JSON logs).

At startup a background thread warms the server (the default settings' token features and design,
the encoder model); ``GET /api/health`` says ``"ready": true`` once it is done.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..errors import EdpbrlError
from ..memory import tune_malloc
from ..render import Generator, ImageCache, load_generator
from ..store import open_store
from ..strategies.registry import check_method
from ..threads import limit_blas_threads
from ..version import __version__
from .context import AppContext
from .middleware import LOOPBACK_HOSTS, Protection, install_error_handlers, install_middleware
from .routes import api_router, pages_router
from .schemas import MAX_EPISODES, MAX_K
from .sessions import DEFAULT_METHOD, SessionManager

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
    episodes: int | None = 30,
    embedder=None,
    *,
    prior="none",
    max_questions: int | None = None,
    image_dir=None,
    render_options: dict | None = None,
    factory=None,
    protection: Protection | None = None,
    max_live: int = 1000,
    idle_seconds: float = 300.0,
    threads: int = 16,
    heavy_threads: int = 2,
    heavy_nice: int = 10,
    warm: bool = True,
    method: str = DEFAULT_METHOD,
) -> FastAPI:
    """The FastAPI app. ``generator``: ``None`` (text cards), a diffusers directory or a
    ``Generator``; ``vocab``: ``None`` (packaged) or a vocabulary path; ``embedder``: as for
    ``Personalizer.default``. ``image_dir`` defaults to the store's own directory (SQLite:
    ``<db stem>-images/`` beside the database), else :func:`default_image_dir`;
    ``render_options`` go to ``DiffusersGenerator`` (``steps``, ``size``, ``guidance``, ``device``).
    ``factory(k=, episodes=, progress=)`` replaces ``Personalizer.default`` (for experiments).
    ``prior``: the population prior sessions start from ("none", "packaged" or a file from
    ``edpbrl prior fit``), moved by the words a person types at the start; ``max_questions``: the
    most questions a session asks before showing its results (None: every planned question;
    "ask me more" raises it); ``episodes=None`` plans just enough episodes for them.

    Capacity: ``protection`` (hosts, size and rate limits, see
    :class:`~edpbrl.app.middleware.Protection`); at most ``max_live`` sessions in memory, those
    idle for ``idle_seconds`` dropped (restored from the store when touched again); ``threads``
    request threads, and ``heavy_threads`` more, ``heavy_nice`` steps lower in OS priority, that
    compute summaries, results, exports and images (with as many copies of the encoder);
    ``warm``: warm up in the background at startup (see the module docstring). ``method``: the
    query strategy of new sessions (a registered name or ``NAME:key=value,...``; default
    ``ed-pbrl-rounded``: one design per session, nothing computed while people answer). An
    adaptive method plans each episode when the person reaches it, in that answer's request.
    """
    if not 2 <= int(k) <= MAX_K:
        raise EdpbrlError(f"k must be in 2..{MAX_K}, got {k}")
    if factory is None:
        check_method(method)  # an unknown method or option is a one-line error now, not per session
    if max_questions is not None and not 1 <= int(max_questions) <= 10_000:
        raise EdpbrlError(f"max_questions must be in 1..10000, got {max_questions}")
    from ..vocab import Vocabulary

    if isinstance(vocab, str | os.PathLike):  # (a Vocabulary object is used as is)
        horizon = Vocabulary.load(vocab).horizon  # fail now, with the vocabulary's own message
        vocab = str(Path(vocab).expanduser().resolve())
    else:
        horizon = (vocab or Vocabulary.default()).horizon
    if episodes is None:  # just enough for the cap (dense feedback: one question per slot)
        episodes = -(-int(max_questions) // horizon) if max_questions else 30
    if not 1 <= int(episodes) <= MAX_EPISODES:
        raise EdpbrlError(f"episodes must be in 1..{MAX_EPISODES}, got {episodes}")
    if prior not in (None, "none", "packaged"):
        from ..prior import Prior

        if not isinstance(prior, Prior):
            Prior.load(prior)  # fail now: a missing or broken prior file is a one-line error
            prior = str(Path(prior).expanduser().resolve())
    store = open_store(db_path)
    gen: Generator | None
    if isinstance(generator, str | os.PathLike):
        gen = load_generator(generator, **(render_options or {}))
    else:
        gen = generator
    if image_dir is None:
        image_dir = store.media_dir() or default_image_dir()
    manager = SessionManager(
        store,
        vocab=vocab,
        embedder=embedder,
        k=int(k),
        episodes=int(episodes),
        factory=factory,
        max_live=max_live,
        idle_seconds=idle_seconds,
        encoders=heavy_threads,
        prior=prior or "none",
        max_questions=max_questions,
        method=method,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    ctx = AppContext(
        store=store,
        manager=manager,
        generator=gen,
        cache=ImageCache(image_dir),
        templates=templates,
        heavy_threads=heavy_threads,
        heavy_nice=heavy_nice,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(2, int(threads))
        if warm:
            threading.Thread(target=manager.warm, daemon=True, name="edpbrl-warm").start()
        yield
        ctx.close()

    app = FastAPI(title="edpbrl", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.store, app.state.manager, app.state.generator = store, manager, gen
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    install_middleware(app, protection)
    install_error_handlers(app, templates)
    _list_export_formats(app)
    app.include_router(pages_router)
    app.include_router(api_router)
    return app


def _list_export_formats(app: FastAPI) -> None:
    """The export's ``format`` parameter, in the OpenAPI schema, as an enum of the formats
    registered when the schema is first asked for (plug-ins included)."""
    build = app.openapi

    def openapi():
        if app.openapi_schema is None:
            from ..export import FORMATS

            spec = build()
            for param in spec["paths"]["/sessions/{sid}/export"]["get"].get("parameters", []):
                if param["name"] == "format":
                    param["schema"]["enum"] = list(FORMATS)
        return app.openapi_schema

    app.openapi = openapi


def trusted_hosts(host: str, allowed: list[str] | None = None) -> list[str]:
    """The ``Host`` names a server bound to ``host`` accepts: the loopback names, ``host`` itself
    (unless it is a wildcard address) and ``allowed`` (``["*"]`` accepts any)."""
    allowed = [a.strip().lower() for a in (allowed or []) if a.strip()]
    if "*" in allowed:
        return ["*"]
    hosts = list(LOOPBACK_HOSTS)
    if host not in ("0.0.0.0", "::", ""):
        hosts.append(host.lower())
    return list(dict.fromkeys(hosts + allowed))


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    db: str | os.PathLike = "edpbrl.sqlite",
    generator=None,
    vocab=None,
    k: int = 4,
    episodes: int | None = None,
    embedder=None,
    *,
    prior="packaged",
    max_questions: int | None = 30,
    steps: int | None = None,
    size: int | None = None,
    guidance: float | None = None,
    allowed_hosts: list[str] | None = None,
    protection: Protection | None = None,
    max_live: int = 1000,
    idle_seconds: float = 300.0,
    threads: int = 16,
    heavy_threads: int | None = None,
    heavy_nice: int = 10,
    torch_threads: int = 1,
    log_level: str = "info",
    image_dir=None,
    method: str = DEFAULT_METHOD,
) -> None:
    """Run the app with uvicorn (blocking). Binds to 127.0.0.1 unless ``host`` says otherwise.

    The port is bound first, so a bad or busy port is a one-line error before anything else
    happens (see :func:`bind_port`).
    ``steps``/``size``/``guidance``: inference steps, image size and guidance scale for the
    ``generator`` directory (defaults 25, 512, 7.5; few-step models such as SD-Turbo want
    ``steps=1..4, guidance=0``). ``allowed_hosts``: ``Host`` names accepted besides the loopback
    names and ``host`` itself (``["*"]``: any); ``protection``: the other limits (its ``hosts``
    are replaced by these). ``heavy_threads`` defaults to the cores (they run at a lower OS
    priority than answering); ``torch_threads``: intra-op threads per request thread. Logs are JSON lines
    on stderr (``log_level``: ``info`` includes one access line per request). ``image_dir``: see
    :func:`create_app`, and ``method``.
    """
    import uvicorn

    from .logs import configure_logging

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    sock = bind_port(host, port)
    try:
        torch.set_num_threads(max(1, int(torch_threads)))
        limit_blas_threads(max(1, int(torch_threads)))
        tune_malloc()
        configure_logging(log_level)
        opts = {"steps": steps, "size": size, "guidance": guidance}
        opts = {key: v for key, v in opts.items() if v is not None}
        prot = protection or Protection()
        prot.hosts = trusted_hosts(host, allowed_hosts)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        app = create_app(
            db,
            generator=generator,
            vocab=vocab,
            k=k,
            episodes=episodes,
            embedder=embedder,
            render_options=opts,
            image_dir=image_dir,
            prior=prior,
            max_questions=max_questions,
            protection=prot,
            max_live=max_live,
            idle_seconds=idle_seconds,
            threads=threads,
            heavy_threads=heavy_threads or cores,
            heavy_nice=heavy_nice,
            method=method,
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"edpbrl: serving on {host}:{port}; anyone who can reach it can start sessions, and "
                "anyone holding a session link can answer it",
                flush=True,
            )
        if app.state.manager.embedder_spec is not None:  # (None: an encoder object of the caller's)
            print(f"edpbrl: text encoder {app.state.manager.embedder_spec}", flush=True)
        print(f"edpbrl: open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/", flush=True)
        config = uvicorn.Config(
            app,
            log_config=None,  # configure_logging did it: JSON lines, tokens never logged
            access_log=False,  # edpbrl.access logs requests with hashed session ids instead
            timeout_keep_alive=75,  # longer than clients keep idle connections: no reuse races
            h11_max_incomplete_event_size=16 * 1024,  # request line + headers
            limit_concurrency=4096,
            backlog=4096,
            server_header=False,
        )
        uvicorn.Server(config).run(sockets=[sock])
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
