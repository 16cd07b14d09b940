"""The web app: FastAPI routes, Jinja2 pages, a JSON API for the small vanilla-JS front end.

Pages: ``/`` (start), ``/s/{id}`` (questions), ``/s/{id}/result`` (personalised prompts).
API: ``/api/sessions[...]`` (see ``docs/app.md``). Export: ``/sessions/{id}/export?format=...``.
A session id is an unguessable token; it is the only credential, so every route checks that the
question or image asked for belongs to the session named in the path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import EdpbrlError
from ..export import FORMATS, build_export, public_id
from ..render import Generator, ImageCache, load_generator, seed_for
from ..store import AlreadyAnswered, open_store
from .sessions import ConflictError, InvalidAnswer, Runtime, SessionManager

HERE = Path(__file__).parent
_SID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
SUMMARY_EVERY = 3  # show "what I've learned so far" after every this many answers
MAX_K, MAX_EPISODES = 10, 500

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


# -- request bodies --------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewSession(_Body):
    style: str = Field("", max_length=500)
    k: int | None = Field(None, ge=2, le=MAX_K)
    episodes: int | None = Field(None, ge=1, le=MAX_EPISODES)


class AnswerBody(_Body):
    question_id: str = Field(min_length=1, max_length=64)
    action: Literal["choose", "skip", "no_preference"] = "choose"
    position: int | None = None  # 0-based position on screen (key 1 → 0); needed for "choose"


class ExtendBody(_Body):
    episodes: int = Field(ge=1, le=MAX_EPISODES)


# -- the app ---------------------------------------------------------------------------------------
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
    ``Personalizer.default``. ``image_dir`` defaults to ``<db stem>-images/`` beside the database;
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
        image_dir = store.media_dir()
        if image_dir is None:
            raise EdpbrlError(f"the store {store.url} has no local directory: give image_dir")
    cache = ImageCache(image_dir)
    manager = SessionManager(
        store, vocab=vocab, embedder=embedder, k=int(k), episodes=int(episodes), factory=factory
    )

    app = FastAPI(title="edpbrl", version=__version__, docs_url=None, redoc_url=None)
    app.state.store, app.state.manager, app.state.generator = store, manager, gen
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # -- plumbing -----------------------------------------------------------------------------
    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        if request.method == "POST" and request.url.path.startswith("/api/"):
            ctype = request.headers.get("content-type", "")
            if not ctype.split(";")[0].strip().lower() == "application/json":
                return JSONResponse(
                    {"error": "send a JSON body (Content-Type: application/json)"}, status_code=415
                )
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # session tokens live in URLs
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _error(request: Request, status: int, message: str):
        if request.url.path.startswith("/api/") or request.url.path.startswith("/sessions/"):
            return JSONResponse({"error": message}, status_code=status)
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        if errs:
            e = errs[0]
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            msg = f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", "invalid")
        else:
            msg = "invalid request"
        return _error(request, 422, f"invalid request: {msg}")

    @app.exception_handler(EdpbrlError)
    async def core_error(request: Request, exc: EdpbrlError):
        status = 409 if isinstance(exc, ConflictError | AlreadyAnswered) else 400
        text = str(exc).strip().splitlines()
        return _error(request, status, text[0] if text else type(exc).__name__)

    def runtime(sid: str) -> Runtime:
        rt = manager.get(sid) if _SID.match(sid) else None
        if rt is None:
            raise HTTPException(404, "unknown session")
        return rt

    def ready(rt: Runtime) -> Runtime:
        if rt.state == "error":
            raise HTTPException(409, f"session failed: {rt.error}")
        if rt.state != "ready" or rt.p is None:
            raise HTTPException(409, f"session is {rt.state}; try again in a moment")
        return rt

    # -- state --------------------------------------------------------------------------------
    def image_url(sid: str, qid: str, pos: int) -> str | None:
        return f"/api/sessions/{sid}/images/{qid}/{pos}" if gen is not None else None

    def state(rt: Runtime) -> dict[str, Any]:
        row = store.get_session(rt.sid)
        out: dict[str, Any] = {
            "id": rt.sid,
            "style": row["style"],
            "state": rt.state,
            "progress": rt.progress,
            "error": rt.error,
            "k": row["k"],
            "n_questions": row["n_questions"],
            "n_answered": 0,
            "n_events": 0,
            "can_undo": False,
            "question": None,
            "show_summary": False,
            "summary_every": SUMMARY_EVERY,
            "certificate": row["certificate"],
            "images": gen is not None,
        }
        if rt.state != "ready" or rt.p is None:
            return out
        with rt.lock:
            p = rt.p
            n_events = len(store.live_answers(rt.sid))
            out.update(
                n_questions=int(p.n_questions),
                n_answered=int(p.n_answered),
                n_events=n_events,
                can_undo=n_events > 0,
                show_summary=p.n_answered > 0 and p.n_answered % SUMMARY_EVERY == 0,
            )
            cur = manager.current(rt)
            if cur is None:
                out["state"] = "done"
                return out
            q, shown = cur
            opts = shown["options"]
            out["question"] = {
                "id": shown["id"],
                "index": int(q.index),
                "number": int(q.index) + 1,
                "total": int(p.n_questions),
                "slot": shown["slot"],
                "options": [
                    {"position": pos, "text": opts[i], "image": image_url(rt.sid, shown["id"], pos)}
                    for pos, i in enumerate(shown["display_order"])
                ],
            }
            out["state"] = "asking"
        return out

    def summary(rt: Runtime) -> dict[str, Any]:
        with rt.lock:
            key = "summary"
            if key not in rt.cache:
                summ = rt.p.summary(top=5)
                for slot in summ["slots"]:  # small slots: do not list a token as liked and disliked
                    liked = {t for t, _ in slot["top"]}
                    slot["bottom"] = [b for b in slot["bottom"] if b[0] not in liked]
                rt.cache[key] = summ
            return rt.cache[key]

    def result(rt: Runtime, n: int = 4) -> dict[str, Any]:
        with rt.lock:
            if "result" not in rt.cache:
                prompts = list(rt.p.best_prompts(n=n))
                scores = [float(s) for s in rt.p.score(prompts)] if prompts else []
                rt.cache["result"] = [
                    {
                        "rank": i + 1,
                        "text": t,
                        "score": s,
                        "image": f"/api/sessions/{rt.sid}/result-images/{i}" if gen is not None else None,
                    }
                    for i, (t, s) in enumerate(zip(prompts, scores, strict=True))
                ]
            return {
                "prompts": rt.cache["result"],
                "summary": summary(rt),
                "n_answered": int(rt.p.n_answered),
                "n_questions": int(rt.p.n_questions),
            }

    # -- pages --------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index(request: Request):
        return templates.TemplateResponse(
            request,
            "index.html",
            {"k": manager.k, "episodes": manager.episodes, "max_k": MAX_K, "images": gen is not None},
        )

    @app.get("/s/{sid}", include_in_schema=False)
    def session_page(request: Request, sid: str):
        rt = runtime(sid)
        row = store.get_session(rt.sid)
        return templates.TemplateResponse(
            request,
            "session.html",
            {"sid": rt.sid, "style": row["style"], "k": row["k"], "every": SUMMARY_EVERY},
        )

    @app.get("/s/{sid}/result", include_in_schema=False)
    def result_page(request: Request, sid: str):
        rt = runtime(sid)
        if rt.state != "ready":
            return RedirectResponse(f"/s/{sid}", status_code=303)
        row = store.get_session(rt.sid)
        res = result(rt)
        with rt.lock:
            done = rt.p.ask() is None
        return templates.TemplateResponse(
            request,
            "result.html",
            {
                "sid": rt.sid,
                "style": row["style"],
                "res": res,
                "cert": row["certificate"] or {},
                "done": done,
                "formats": list(FORMATS),
                "episodes": max(1, min(manager.episodes, 10)),
                "public": public_id(rt.sid),
            },
        )

    # -- API ----------------------------------------------------------------------------------
    @app.get("/api/health")
    def health():
        return {"ok": True, "version": __version__, "images": gen is not None}

    @app.post("/api/sessions", status_code=201)
    def new_session(body: NewSession):
        rt = manager.create(
            style=body.style.strip(),
            k=body.k or manager.k,
            episodes=body.episodes or manager.episodes,
        )
        return {"id": rt.sid, "url": f"/s/{rt.sid}", "state": rt.state}

    @app.get("/api/sessions/{sid}")
    def get_state(sid: str):
        return state(runtime(sid))

    @app.post("/api/sessions/{sid}/answer")
    def post_answer(sid: str, body: AnswerBody):
        rt = ready(runtime(sid))
        with rt.lock:
            if body.action == "choose":
                if body.position is None:
                    raise HTTPException(422, "invalid request: position is required to choose")
            elif body.position is not None:
                raise HTTPException(422, f"invalid request: no position with action {body.action}")
            try:
                manager.answer(rt, body.question_id, body.action, body.position)
            except LookupError as exc:
                raise HTTPException(404, str(exc)) from None
            except InvalidAnswer as exc:
                raise HTTPException(422, f"invalid request: {exc}") from None
        return state(rt)

    @app.post("/api/sessions/{sid}/undo")
    def post_undo(sid: str, body: dict | None = None):
        rt = ready(runtime(sid))
        with rt.lock:
            if manager.undo(rt) is None:
                raise HTTPException(409, "nothing to undo")
        return state(manager.get(sid) or rt)

    @app.get("/api/sessions/{sid}/summary")
    def get_summary(sid: str):
        rt = ready(runtime(sid))
        return summary(rt)

    @app.get("/api/sessions/{sid}/result")
    def get_result(sid: str):
        return result(ready(runtime(sid)))

    @app.post("/api/sessions/{sid}/extend", status_code=202)
    def post_extend(sid: str, body: ExtendBody):
        rt = ready(runtime(sid))
        manager.extend(rt, body.episodes)
        return state(rt)

    def _png(prompt: str, seed: int, sid: str) -> FileResponse:
        if gen is None:
            raise HTTPException(404, "no image generator is configured")
        path = cache.get(gen, prompt, seed)
        store.record_image(sid, prompt=prompt, seed=seed, model_id=gen.model_id, path=str(path))
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private"})

    @app.get("/api/sessions/{sid}/images/{qid}/{position}")
    def option_image(sid: str, qid: str, position: int):
        rt = runtime(sid)
        shown = store.get_question(rt.sid, qid)
        if shown is None:
            raise HTTPException(404, "question not found in this session")
        if not 0 <= position < len(shown["display_order"]):
            raise HTTPException(404, "no such option")
        i = shown["display_order"][position]
        return _png(shown["options"][i], shown["seeds"][i], rt.sid)

    @app.get("/api/sessions/{sid}/result-images/{n}")
    def result_image(sid: str, n: int):
        rt = ready(runtime(sid))
        prompts = result(rt)["prompts"]
        if not 0 <= n < len(prompts):
            raise HTTPException(404, "no such prompt")
        text = prompts[n]["text"]
        return _png(text, seed_for(text, store.get_session(rt.sid)["image_seed"]), rt.sid)

    @app.get("/sessions/{sid}/export")
    def export(sid: str, format: str = "jsonl"):  # noqa: A002 - the query parameter's name
        rt = runtime(sid)
        if format not in FORMATS:
            raise HTTPException(422, f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
        p = None
        if FORMATS.get(format).needs_model:
            p = ready(rt).p
            with rt.lock:
                exp = build_export(store, rt.sid, format, personalizer=p)
        else:
            exp = build_export(store, rt.sid, format)
        return Response(
            exp.data,
            media_type=exp.media_type,
            headers={"Content-Disposition": f'attachment; filename="{exp.filename}"'},
        )

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
) -> None:
    """Run the app with uvicorn (blocking). Binds to 127.0.0.1 unless ``host`` says otherwise.

    ``steps``/``size``/``guidance``: inference steps, image size and guidance scale for the
    ``generator`` directory (defaults 25, 512, 7.5; few-step models such as SD-Turbo want
    ``steps=1..4, guidance=0``).
    """
    import uvicorn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"edpbrl: serving on {host}:{port}; anyone who can reach it can start sessions, and "
            "anyone holding a session link can answer it"
        )
    print(f"edpbrl: open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning")
