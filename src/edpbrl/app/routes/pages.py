"""HTML pages: ``/`` (start), ``/s/{sid}`` (questions), ``/s/{sid}/result`` (personalised prompts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from ...export import FORMATS, public_id
from .. import views
from ..context import AppContext, get_ctx
from ..schemas import MAX_K

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_ctx)]


@router.get("/", include_in_schema=False)
def index(request: Request, ctx: Ctx):
    m = ctx.manager
    return ctx.templates.TemplateResponse(
        request,
        "index.html",
        {"k": m.k, "episodes": m.episodes, "max_k": MAX_K, "images": ctx.images},
    )


@router.get("/s/{sid}", include_in_schema=False)
def session_page(request: Request, sid: str, ctx: Ctx):
    rt = views.lookup(ctx, sid)
    row = ctx.store.get_session(rt.sid)
    return ctx.templates.TemplateResponse(
        request,
        "session.html",
        {"sid": rt.sid, "style": row["style"], "k": row["k"], "every": ctx.summary_every},
    )


@router.get("/s/{sid}/result", include_in_schema=False)
def result_page(request: Request, sid: str, ctx: Ctx):
    rt = views.lookup(ctx, sid)
    if rt.state != "ready":
        return RedirectResponse(f"/s/{sid}", status_code=303)
    row = ctx.store.get_session(rt.sid)
    res = views.session_result(ctx, rt)
    return ctx.templates.TemplateResponse(
        request,
        "result.html",
        {
            "sid": rt.sid,
            "style": row["style"],
            "res": res,
            "cert": row["certificate"] or {},
            "done": views.is_done(rt),
            "formats": list(FORMATS),
            "episodes": max(1, min(ctx.manager.episodes, 10)),
            "public": public_id(rt.sid),
        },
    )
