"""The JSON API (``/api/...``, see ``docs/app.md``) and the export download (``/sessions/{sid}/export``).

A session id is an unguessable token and the only credential: every route finds the session by
its id first, and the views check that a question or image belongs to that session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, Response

from ...version import __version__
from .. import views
from ..context import AppContext, get_ctx
from ..schemas import AnswerBody, ExtendBody, NewSession

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_ctx)]


def _png(path) -> FileResponse:
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private"})


@router.get("/api/health")
def health(ctx: Ctx):
    return {"ok": True, "version": __version__, "images": ctx.images}


@router.post("/api/sessions", status_code=201)
def new_session(body: NewSession, ctx: Ctx):
    m = ctx.manager
    rt = m.create(style=body.style.strip(), k=body.k or m.k, episodes=body.episodes or m.episodes)
    return {"id": rt.sid, "url": f"/s/{rt.sid}", "state": rt.state}


@router.get("/api/sessions/{sid}")
def get_state(sid: str, ctx: Ctx):
    return views.session_state(ctx, views.lookup(ctx, sid))


@router.post("/api/sessions/{sid}/answer")
def post_answer(sid: str, body: AnswerBody, ctx: Ctx):
    rt = views.ready(views.lookup(ctx, sid))
    return views.submit_answer(ctx, rt, body.question_id, body.action, body.position)


@router.post("/api/sessions/{sid}/undo")
def post_undo(sid: str, ctx: Ctx, body: dict | None = None):
    return views.undo_answer(ctx, views.ready(views.lookup(ctx, sid)))


@router.get("/api/sessions/{sid}/summary")
def get_summary(sid: str, ctx: Ctx):
    return views.learned_summary(ctx, views.ready(views.lookup(ctx, sid)))


@router.get("/api/sessions/{sid}/result")
def get_result(sid: str, ctx: Ctx):
    return views.session_result(ctx, views.ready(views.lookup(ctx, sid)))


@router.post("/api/sessions/{sid}/extend", status_code=202)
def post_extend(sid: str, body: ExtendBody, ctx: Ctx):
    return views.extend_session(ctx, views.ready(views.lookup(ctx, sid)), body.episodes)


@router.get("/api/sessions/{sid}/images/{qid}/{position}")
def option_image(sid: str, qid: str, position: int, ctx: Ctx):
    return _png(views.option_image(ctx, views.lookup(ctx, sid), qid, position))


@router.get("/api/sessions/{sid}/result-images/{n}")
def result_image(sid: str, n: int, ctx: Ctx):
    return _png(views.result_image(ctx, views.ready(views.lookup(ctx, sid)), n))


@router.get("/sessions/{sid}/export")
def export(sid: str, ctx: Ctx, format: str = "jsonl"):  # noqa: A002 - the query parameter's name
    exp = views.session_export(ctx, views.lookup(ctx, sid), format)
    return Response(
        exp.data,
        media_type=exp.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exp.filename}"'},
    )
