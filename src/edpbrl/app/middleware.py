"""HTTP plumbing: security headers, the JSON-only rule for API posts, and errors as JSON or pages.

Errors of the project map to status codes here (and nowhere else): :class:`~.views.NotFound` →
404, :class:`~.views.Unprocessable` → 422, :class:`~.sessions.ConflictError` and
:class:`~edpbrl.store.AlreadyAnswered` → 409, any other :class:`~edpbrl.errors.EdpbrlError` → 400.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import EdpbrlError
from ..store import AlreadyAnswered
from .sessions import ConflictError
from .views import NotFound, Unprocessable

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


async def security_headers(request: Request, call_next):
    """415 for an API post without a JSON body; security headers and ``no-store`` on every answer."""
    if request.method == "POST" and request.url.path.startswith("/api/"):
        ctype = request.headers.get("content-type", "")
        if not ctype.split(";")[0].strip().lower() == "application/json":
            return JSONResponse(
                {"error": "send a JSON body (Content-Type: application/json)"}, status_code=415
            )
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # session tokens live in URLs
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def install_middleware(app: FastAPI) -> None:
    app.middleware("http")(security_headers)


def status_of(exc: EdpbrlError) -> int:
    """The HTTP status of one of the project's errors."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Unprocessable):
        return 422
    if isinstance(exc, ConflictError | AlreadyAnswered):
        return 409
    return 400


def install_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    """Errors as ``{"error": message}`` under ``/api/`` and ``/sessions/``, as a page elsewhere."""

    def error(request: Request, status: int, message: str):
        if request.url.path.startswith("/api/") or request.url.path.startswith("/sessions/"):
            return JSONResponse({"error": message}, status_code=status)
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error(request, exc.status_code, str(exc.detail))

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
        return error(request, status_of(exc), text[0] if text else type(exc).__name__)
