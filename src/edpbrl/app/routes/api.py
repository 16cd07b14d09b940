"""The JSON API (``/api/...``, see ``docs/app.md``) and the export download (``/sessions/{sid}/export``).

A session id is an unguessable token and the only credential: every route finds the session by
its id first, and the views check that a question or image belongs to that session.

Light routes (state, answers, undo) are plain functions that FastAPI runs in its thread pool.
Heavy ones (summary, results, exports, images: encoder and beam search) run in the few
low-priority threads of :meth:`~edpbrl.app.context.AppContext.heavy`, so that they never keep a
core from people who are answering.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from ...export import FORMATS
from ...version import __version__
from .. import views
from ..context import AppContext, get_ctx
from ..heavy import BACKGROUND, INTERACTIVE
from ..schemas import AnswerBody, ChooseBody, ExtendBody, NewSession, ShareBody, UndoBody, errors

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_ctx)]
_LIMITS = (400, 413, 429, 431)  # any request can meet these (400: a Host that is not allowed)
_PARAMS = (*_LIMITS, 422)  # and a request with parameters
_POST = (*_PARAMS, 415)


def _png(path) -> FileResponse:
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private"})


@router.get("/api/health", responses=errors(*_LIMITS))
def health(ctx: Ctx):
    """``ready`` is true once the encoder is loaded and the default design computed."""
    m = ctx.manager
    return {
        "ok": True,
        "ready": m.warmup["state"] == "ready",
        "warmup": m.warmup,
        "version": __version__,
        "encoder": m.embedder_spec or "custom",
        "images": ctx.images,
        "live_sessions": m.n_live,
    }


@router.post("/api/sessions", status_code=201, responses=errors(*_POST))
def new_session(body: NewSession, ctx: Ctx):
    m = ctx.manager
    rt = m.create(
        style=body.style.strip(), k=body.k or m.k, episodes=body.episodes or m.episodes, share=body.share
    )
    return {"id": rt.sid, "url": f"/s/{rt.sid}", "state": rt.state}


@router.get("/api/sessions/{sid}", responses=errors(404, *_PARAMS))
def get_state(sid: str, ctx: Ctx):
    with views.checkout(ctx, sid) as rt:
        return views.session_state(ctx, rt)


@router.post("/api/sessions/{sid}/answer", responses=errors(404, 409, *_POST))
def post_answer(sid: str, body: AnswerBody, ctx: Ctx):
    position = body.position if isinstance(body, ChooseBody) else None
    with views.checkout(ctx, sid) as rt:
        return views.submit_answer(ctx, views.ready(rt), body.question_id, body.action, position)


@router.post("/api/sessions/{sid}/undo", responses=errors(404, 409, *_POST))
def post_undo(sid: str, body: UndoBody, ctx: Ctx):
    with views.checkout(ctx, sid) as rt:
        return views.undo_answer(ctx, views.ready(rt))


@router.get("/api/sessions/{sid}/summary", responses=errors(404, 409, *_PARAMS))
async def get_summary(sid: str, ctx: Ctx):
    def work():
        with views.checkout(ctx, sid) as rt:
            return views.learned_summary(ctx, views.ready(rt))

    return await ctx.heavy_once(("summary", sid), work, BACKGROUND)  # one job per person at a time


@router.get("/api/sessions/{sid}/result", responses=errors(404, 409, *_PARAMS))
async def get_result(sid: str, ctx: Ctx):
    def cached():
        with views.checkout(ctx, sid) as rt:
            return views.cached_result(ctx, rt)

    def work():
        with views.checkout(ctx, sid) as rt:
            return views.session_result(ctx, views.ready(rt))

    return await ctx.heavy_unless_cached(cached, work)


@router.post("/api/sessions/{sid}/extend", status_code=202, responses=errors(404, 409, *_POST))
def post_extend(sid: str, body: ExtendBody, ctx: Ctx):
    with views.checkout(ctx, sid) as rt:
        return views.extend_session(ctx, views.ready(rt), body.episodes)


@router.post("/api/sessions/{sid}/share", responses=errors(404, *_POST))
def post_share(sid: str, body: ShareBody, ctx: Ctx):
    with views.checkout(ctx, sid) as rt:
        return views.set_share(ctx, rt, body.share)


@router.get(
    "/api/sessions/{sid}/images/{qid}/{position}",
    responses={200: {"content": {"image/png": {}}}, **errors(404, *_PARAMS)},
    response_class=FileResponse,
)
async def option_image(sid: str, qid: str, position: int, ctx: Ctx):
    def work():
        with views.checkout(ctx, sid) as rt:
            return views.option_image(ctx, rt, qid, position)

    return _png(await ctx.heavy(work, INTERACTIVE))


@router.get(
    "/api/sessions/{sid}/result-images/{n}",
    responses={200: {"content": {"image/png": {}}}, **errors(404, 409, *_PARAMS)},
    response_class=FileResponse,
)
async def result_image(sid: str, n: int, ctx: Ctx):
    def work():
        with views.checkout(ctx, sid) as rt:
            return views.result_image(ctx, views.ready(rt), n)

    return _png(await ctx.heavy(work))


@router.get(
    "/sessions/{sid}/export",
    responses={
        200: {
            # the built-in formats' types; a plug-in format may send any other
            "content": {
                t: {}
                for t in (
                    "application/x-ndjson",
                    "application/json",
                    "application/zip",
                    "application/octet-stream",
                    "*/*",
                )
            },
            "description": "the export as a download (Content-Disposition: attachment)",
        },
        **errors(404, 409, *_PARAMS),
    },
    response_class=Response,
)
async def export(sid: str, ctx: Ctx, format: str = "jsonl"):  # noqa: A002 - the query parameter's name
    def work(cached_only: bool = False):
        with views.checkout(ctx, sid) as rt:
            return views.session_export(ctx, rt, format, cached_only=cached_only)

    # formats that need θ̂ (beam search, encoder) are heavy unless the results page computed what
    # they need; the others only read the store
    needs_model = format in FORMATS and FORMATS.get(format).needs_model
    if needs_model:
        exp = await ctx.heavy_unless_cached(lambda: work(cached_only=True), work)
    else:
        exp = await run_in_threadpool(work)
    return Response(
        exp.data,
        media_type=exp.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exp.filename}"'},
    )
