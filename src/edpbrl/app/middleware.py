"""HTTP plumbing: the protective middleware, structured logs, and errors as JSON or pages.

Every request passes, outermost first: :class:`AccessLog` (one JSON log line per request, session
tokens replaced by their public hash; an unhandled error becomes a logged ``500``),
:class:`SecurityHeaders` (CSP and friends on every response), Starlette's
``TrustedHostMiddleware`` (``Host`` must be one of :attr:`Protection.hosts`: DNS rebinding),
:class:`Limits` (header count and size → ``431``, body size → ``413``), :class:`RateLimit` (a token
bucket per client address, a stricter one for creating sessions → ``429`` with ``Retry-After``),
:class:`HeadAsGet` (``HEAD`` wherever ``GET`` exists) and :class:`JsonOnly` (API posts must be
JSON → ``415``).

Errors of the project map to status codes here (and nowhere else): :class:`~.views.NotFound` →
404, :class:`~.views.Unprocessable` → 422, :class:`~.sessions.ConflictError` and
:class:`~edpbrl.store.AlreadyAnswered` → 409, :class:`~.sessions.Busy` → 429, any other
:class:`~edpbrl.errors.EdpbrlError` → 400.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import EdpbrlError
from ..export import public_id
from ..store import AlreadyAnswered
from .sessions import Busy, ConflictError
from .views import NotFound, Unprocessable

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

access_log = logging.getLogger("edpbrl.access")
error_log = logging.getLogger("edpbrl.error")

# session and question ids are 32-character URL-safe tokens (edpbrl.store.new_token); any such
# run in a logged path or message is replaced by its public hash
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
_SESSION_PATH = re.compile(r"^/(?:api/sessions|sessions|s)/([^/]+)")


def scrub(text: str) -> str:
    """``text`` with every session-token-like run replaced by ``~`` + its public hash."""
    return _TOKEN.sub(lambda m: "~" + public_id(m.group(0)), text)


def scrub_path(path: str) -> str:
    """A request path safe to log: the session segment and any token hashed."""
    m = _SESSION_PATH.match(path)
    if m and not m.group(1).startswith("~"):
        path = path[: m.start(1)] + "~" + public_id(m.group(1)) + path[m.end(1) :]
    return scrub(path)


@dataclass
class Protection:
    """Limits the server enforces (see the module docstring); ``0`` or ``None`` turns one off.

    ``hosts``: accepted ``Host`` names (``"*"`` accepts any; the default is the loopback names);
    ``rate``/``burst``: requests per second per client address and the bucket size;
    ``create_rate``/``create_burst``: new sessions per second per client address and burst.
    """

    hosts: list[str] = field(default_factory=lambda: list(LOOPBACK_HOSTS))
    max_body: int = 64 * 1024
    max_headers: int = 64
    max_header_bytes: int = 8 * 1024
    rate: float = 20.0
    burst: float = 60.0
    create_rate: float = 20 / 60
    create_burst: float = 20.0


def _json_error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# -- pure ASGI middleware -------------------------------------------------------------------------
class AccessLog:
    """One JSON line per request on ``edpbrl.access`` (method, hashed path, status, milliseconds,
    client, bytes); an unhandled exception is logged on ``edpbrl.error`` (scrubbed) and answered
    with ``500 {"error": "internal error"}`` instead of reaching the server's own log."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        info = {"status": 0, "bytes": 0}

        async def send_logged(message):
            if message["type"] == "http.response.start":
                info["status"] = message["status"]
            elif message["type"] == "http.response.body":
                info["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except Exception as exc:
            error_log.error(
                json.dumps(
                    {
                        "event": "error",
                        "method": scope.get("method"),
                        "path": scrub_path(scope.get("path", "")),
                        "error": scrub(f"{type(exc).__name__}: {exc}"),
                        "traceback": scrub("".join(traceback.format_exception(exc))),
                    }
                )
            )
            if info["status"] == 0:
                info["status"] = 500
                await _json_error(500, "internal error")(scope, receive, send_logged)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                access_log.info(
                    json.dumps(
                        {
                            "event": "access",
                            "method": scope.get("method"),
                            "path": scrub_path(scope.get("path", "")),
                            "status": info["status"],
                            "ms": round((time.perf_counter() - t0) * 1000, 2),
                            "client": client[0],
                            "bytes": info["bytes"],
                        }
                    )
                )


class SecurityHeaders:
    """CSP, nosniff, frame and referrer policy on every response; ``no-store`` except static."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope.get("path", "").startswith("/static/")

        async def send_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                names = {k.lower() for k, _ in headers}
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),  # session tokens live in URLs
                ]
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_headers)


class Limits:
    """``431`` for too many or too large request headers, ``413`` for a body over ``max_body``
    bytes (by ``Content-Length``, or counted while it streams in)."""

    def __init__(self, app, protection: Protection):
        self.app, self.p = app, protection

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        p = self.p
        headers = scope.get("headers", [])
        if p.max_headers and len(headers) > p.max_headers:
            return await _json_error(431, f"too many request headers (max {p.max_headers})")(
                scope, receive, send
            )
        if p.max_header_bytes and any(len(k) + len(v) > p.max_header_bytes for k, v in headers):
            return await _json_error(431, f"a request header is too large (max {p.max_header_bytes} bytes)")(
                scope, receive, send
            )
        if not p.max_body:
            return await self.app(scope, receive, send)
        length = next((v for k, v in headers if k == b"content-length"), None)
        too_large = _json_error(413, f"request body too large (max {p.max_body} bytes)")
        if length is not None:
            if not length.isdigit() or int(length) > p.max_body:
                return await too_large(scope, receive, send)
            return await self.app(scope, receive, send)  # the server reads exactly that many bytes
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        # a streamed body without a length: read it here, at most max_body bytes, then pass it on
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = message.get("more_body", False)
            if seen > p.max_body:
                return await too_large(scope, receive, send)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class TokenBuckets:
    """Token buckets by key: ``take(key)`` is 0 when a request may go, else the seconds to wait."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._buckets) > 10_000:  # forget clients whose buckets are full again
                full = self.burst / self.rate if self.rate > 0 else 0
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full}
        return wait


class RateLimit:
    """``429`` with ``Retry-After`` when a client address exceeds its request rate, or its rate of
    new sessions (``POST /api/sessions``). Static files are not counted."""

    def __init__(self, app, protection: Protection):
        self.app = app
        p = protection
        self.requests = TokenBuckets(p.rate, p.burst) if p.rate else None
        self.creates = TokenBuckets(p.create_rate, p.create_burst) if p.create_rate else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path", "").startswith("/static/"):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.requests.take(client) if self.requests else 0.0
        what = "requests"
        if not wait and self.creates and scope["method"] == "POST" and scope["path"] == "/api/sessions":
            wait, what = self.creates.take(client), "new sessions"
        if wait:
            retry = max(1, math.ceil(wait))
            return await _json_error(
                429, f"too many {what} from your address; try again in {retry} s", {"Retry-After": str(retry)}
            )(scope, receive, send)
        await self.app(scope, receive, send)


class HeadAsGet:
    """``HEAD`` is served as ``GET`` without the body, wherever a ``GET`` route exists."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def send_head(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_head)


class JsonOnly:
    """``415`` for an API ``POST`` whose body is not declared ``application/json`` (this also
    blocks plain cross-site form posts)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/api/"):
            ctype = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
            if ctype.decode("latin-1").split(";")[0].strip().lower() != "application/json":
                return await _json_error(415, "send a JSON body (Content-Type: application/json)")(
                    scope, receive, send
                )
        await self.app(scope, receive, send)


def install_middleware(app: FastAPI, protection: Protection | None = None) -> None:
    """The stack of the module docstring (Starlette runs the last added first)."""
    p = protection or Protection()
    app.add_middleware(JsonOnly)
    app.add_middleware(HeadAsGet)
    app.add_middleware(RateLimit, protection=p)
    app.add_middleware(Limits, protection=p)
    if p.hosts and "*" not in p.hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(p.hosts), www_redirect=False)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)


# -- errors ---------------------------------------------------------------------------------------
def status_of(exc: EdpbrlError) -> int:
    """The HTTP status of one of the project's errors."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Unprocessable):
        return 422
    if isinstance(exc, ConflictError | AlreadyAnswered):
        return 409
    if isinstance(exc, Busy):
        return 429
    return 400


def install_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    """Errors as ``{"error": message}`` under ``/api/`` and ``/sessions/``, as a page elsewhere."""

    def error(request: Request, status: int, message: str, headers: dict | None = None):
        if request.url.path.startswith("/api/") or request.url.path.startswith("/sessions/"):
            return _json_error(status, message, headers)
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status, headers=headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        # keep the exception's headers: ``Allow`` on 405
        return error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        if errs:
            e = errs[0]
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            msg = f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", "invalid")
        else:
            msg = "invalid request"
        return error(request, 422, f"invalid request: {msg}")

    @app.exception_handler(EdpbrlError)
    async def core_error(request: Request, exc: EdpbrlError):
        text = str(exc).strip().splitlines()
        status = status_of(exc)
        headers = {"Retry-After": str(getattr(exc, "retry_after", 30))} if status == 429 else None
        return error(request, status, text[0] if text else type(exc).__name__, headers)
