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
        {
            "k": m.k,
            "episodes": m.episodes,
            "max_k": MAX_K,
            "images": ctx.images,
            "prior": m.prior not in (None, "none"),
            "max_questions": m.max_questions,
        },
    )


@router.get("/s/{sid}", include_in_schema=False)
def session_page(request: Request, sid: str, ctx: Ctx):
    with views.checkout(ctx, sid) as rt:
        row = ctx.manager.session_row(rt)
    return ctx.templates.TemplateResponse(
        request,
        "session.html",
        {"sid": rt.sid, "style": row["style"], "k": row["k"], "every": ctx.summary_every},
    )


@router.get("/s/{sid}/result", include_in_schema=False)
async def result_page(request: Request, sid: str, ctx: Ctx):
    def work(cached_only: bool = False):
        with views.checkout(ctx, sid) as rt:
            if rt.state != "ready":
                return False if cached_only else None
            res = views.cached_result(ctx, rt) if cached_only else views.session_result(ctx, rt)
            if res is None:
                return None  # not cached: computed in the heavy threads
            row = ctx.manager.session_row(rt)
            return {
                "sid": rt.sid,
                "style": row["style"],
                "share": bool(row.get("share")),
                "res": res,
                "cert": row["certificate"] or {},
                "done": views.is_done(rt),
                "formats": list(FORMATS),
                "per_round": int(getattr(rt.p, "questions_per_episode", 1)),
                "public": public_id(rt.sid),
            }

    page = await ctx.heavy_unless_cached(lambda: work(cached_only=True), work)
    if not page:  # (None or False: the session is not ready)
        return RedirectResponse(f"/s/{sid}", status_code=303)
    return ctx.templates.TemplateResponse(request, "result.html", page)
