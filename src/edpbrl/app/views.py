"""What the app shows, as plain functions of an :class:`~.context.AppContext` and a session.

Nothing here knows about HTTP: failures are the project's own errors (:class:`NotFound`,
:class:`~.sessions.ConflictError`, :class:`Unprocessable`), which :mod:`.middleware` maps to status
codes. The routes in :mod:`.routes` parse a request, call these and return what they give.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import EdpbrlError
from ..export import FORMATS, Export, build_export
from ..personalizer import RESULT_MIN_DIFF_SLOTS
from ..render import seed_for
from ..stopping import confidence_words
from .context import AppContext
from .sessions import RELOADING, ConflictError, InvalidAnswer, Runtime

_SID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
RESTORE_WAIT = 1.0  # seconds a request waits for a session it finds in the store to be restored


class NotFound(EdpbrlError):
    """No such session, question, option, prompt or image in this session (HTTP 404)."""


class Unprocessable(EdpbrlError):
    """A well-formed request that cannot be applied as asked (HTTP 422)."""


# -- sessions ----------------------------------------------------------------------------------
def lookup(ctx: AppContext, sid: str) -> Runtime:
    """The session ``sid`` (a resume starts if it is not in memory, and is waited for up to
    :data:`RESTORE_WAIT` seconds); NotFound if unknown."""
    rt = ctx.manager.get(sid, wait=RESTORE_WAIT) if _SID.match(sid) else None
    if rt is None:
        raise NotFound("unknown session")
    return rt


@contextmanager
def checkout(ctx: AppContext, sid: str) -> Iterator[Runtime]:
    """:func:`lookup`, with the session kept in memory until the block ends (what routes use)."""
    if not _SID.match(sid):
        raise NotFound("unknown session")
    with ctx.manager.checkout(sid, wait=RESTORE_WAIT) as rt:
        if rt is None:
            raise NotFound("unknown session")
        yield rt


def fresh(ctx: AppContext, rt: Runtime) -> None:
    """Bring ``rt``'s personalizer in step with the store (another server process may have
    changed the session); ConflictError while it has to be rebuilt. Call with ``rt.lock`` held."""
    if not ctx.manager.in_step(rt):
        raise ConflictError(RELOADING)


def ready(rt: Runtime) -> Runtime:
    """``rt`` if its personalizer can be used now; ConflictError while designing or after a failure."""
    if rt.state == "error":
        raise ConflictError(f"session failed: {rt.error}")
    if rt.state != "ready" or rt.p is None:
        raise ConflictError(f"session is {rt.state}; try again in a moment")
    return rt


# -- state -------------------------------------------------------------------------------------
def image_url(ctx: AppContext, sid: str, qid: str, pos: int) -> str | None:
    """The URL of the image of the option at screen position ``pos`` (None without a generator)."""
    return f"/api/sessions/{sid}/images/{qid}/{pos}" if ctx.generator is not None else None


def result_image_url(ctx: AppContext, sid: str, n: int) -> str | None:
    """The URL of the image of the ``n``-th best prompt (None without a generator)."""
    return f"/api/sessions/{sid}/result-images/{n}" if ctx.generator is not None else None


def session_state(ctx: AppContext, rt: Runtime) -> dict[str, Any]:
    """The session as the question page sees it; ``question`` is the one to answer now."""
    # The state first, then the row: a design or restore records its row before it says
    # "ready", so a "ready" seen here always comes with the designed row (certificate, count).
    state, progress, error = rt.state, rt.progress, rt.error
    row = ctx.manager.session_row(rt)  # (no lock: see session_row)
    out: dict[str, Any] = {
        "id": rt.sid,
        "style": row["style"],
        "state": state,
        "progress": progress,
        "error": error,
        "k": row["k"],
        "n_questions": row["n_questions"],
        "n_answered": 0,
        "n_events": 0,
        "can_undo": False,
        "question": None,
        "show_summary": False,
        "summary_every": ctx.summary_every,
        "certificate": row["certificate"],
        "images": ctx.generator is not None,
    }
    if state != "ready":
        return out
    with rt.lock:
        if not ctx.manager.in_step(rt):  # rebuilding (changed elsewhere beyond replay, or restarted)
            out["state"], out["progress"] = rt.state, rt.progress
            return out
        p = rt.p
        n_events = len(rt.synced)
        out.update(
            n_questions=int(p.n_to_ask),
            n_answered=int(p.n_answered),
            n_events=n_events,
            can_undo=n_events > 0,
            show_summary=p.n_answered > 0 and p.n_answered % ctx.summary_every == 0,
        )
        cur = ctx.manager.current(rt)
        if cur is None:
            out["state"] = "done"
            return out
        q, shown = cur
        opts = shown["options"]
        out["question"] = {
            "id": shown["id"],
            "index": int(q.index),
            "number": int(q.index) + 1,
            "total": int(p.n_to_ask),
            "slot": shown["slot"],
            "options": [
                {"position": pos, "text": opts[i], "image": image_url(ctx, rt.sid, shown["id"], pos)}
                for pos, i in enumerate(shown["display_order"])
            ],
        }
        out["state"] = "asking"
    return out


def learned_summary(ctx: AppContext, rt: Runtime) -> dict[str, Any]:
    """What the personalizer has learned so far (cached until the next answer)."""
    key = "summary"
    with rt.lock:
        fresh(ctx, rt)
        if key in rt.cache:
            return rt.cache[key]
        texts, encoder = rt.p.unencoded_options(), rt.p.embedder
    if texts:  # the bulk of the work, outside the lock: the person's answers are not held up
        encoder.encode(texts)  # (the app's shared encoder keeps the rows for the estimate)
    with rt.lock:
        fresh(ctx, rt)
        if key not in rt.cache:
            summ = rt.p.summary(top=5)
            for slot in summ["slots"]:  # small slots: do not list a token as liked and disliked
                liked = {t for t, _ in slot["top"]}
                slot["bottom"] = [b for b in slot["bottom"] if b[0] not in liked]
            rt.cache[key] = summ
        return rt.cache[key]


_RESULT_PARTS = ("result", "confidence", "summary")  # what session_result keeps in rt.cache


def result_cached(ctx: AppContext, rt: Runtime) -> bool:
    """Whether :func:`session_result` (and so the model exports) is a lookup now: computed for
    the current answers and not invalidated since."""
    with rt.lock:
        if rt.state != "ready" or rt.p is None or not ctx.manager.in_step(rt):
            return False
        return all(k in rt.cache for k in _RESULT_PARTS)


def cached_result(ctx: AppContext, rt: Runtime) -> dict[str, Any] | None:
    """:func:`session_result` if it is cached (:func:`result_cached`), else None (nothing computed)."""
    with rt.lock:  # (the check, which brings rt in step with the store, and the read see the same answers)
        return _result_view(rt, *(rt.cache[k] for k in _RESULT_PARTS)) if result_cached(ctx, rt) else None


def _result_view(rt: Runtime, prompts: list, confidence: dict, summary: dict) -> dict[str, Any]:
    """What :func:`session_result` returns (call with ``rt.lock`` held)."""
    return {
        "prompts": prompts,
        "confidence": confidence,
        "summary": summary,
        "n_answered": int(rt.p.n_answered),
        "n_questions": int(rt.p.n_to_ask),
    }


def session_result(ctx: AppContext, rt: Runtime, n: int = 4) -> dict[str, Any]:
    """The ``n`` best prompts with their scores, and the summary (cached until the next answer)."""
    with rt.lock:
        fresh(ctx, rt)
        if "result" not in rt.cache:
            # varied, each high-scoring (the same prompts as the θ export)
            prompts = list(rt.p.best_prompts(n=n, min_diff_slots=RESULT_MIN_DIFF_SLOTS))
            scores = [float(s) for s in rt.p.score(prompts)] if prompts else []
            rt.cache["result"] = [
                {"rank": i + 1, "text": t, "score": s, "image": result_image_url(ctx, rt.sid, i)}
                for i, (t, s) in enumerate(zip(prompts, scores, strict=True))
            ]
        if "confidence" not in rt.cache:
            conf = rt.p.confidence()
            conf["text"] = confidence_words(conf["expected_error"], conf["n_answers"])
            rt.cache["confidence"] = conf
        return _result_view(rt, rt.cache["result"], rt.cache["confidence"], learned_summary(ctx, rt))


def is_done(rt: Runtime) -> bool:
    """Whether every planned question is answered."""
    with rt.lock:
        return rt.p.ask() is None


# -- answers -----------------------------------------------------------------------------------
def submit_answer(
    ctx: AppContext, rt: Runtime, qid: str, action: str, position: int | None
) -> dict[str, Any]:
    """Record one answer (``position`` only with ``action="choose"``); the new state."""
    with rt.lock:
        if action == "choose":
            if position is None:
                raise Unprocessable("invalid request: position is required to choose")
        elif position is not None:
            raise Unprocessable(f"invalid request: no position with action {action}")
        try:
            ctx.manager.answer(rt, qid, action, position)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except InvalidAnswer as exc:
            raise Unprocessable(f"invalid request: {exc}") from None
    return session_state(ctx, rt)


def undo_answer(ctx: AppContext, rt: Runtime) -> dict[str, Any]:
    """Undo the last answer (ConflictError when there is none); the new state."""
    with rt.lock:
        if ctx.manager.undo(rt) is None:
            raise ConflictError("nothing to undo")
    return session_state(ctx, ctx.manager.get(rt.sid) or rt)


def extend_session(ctx: AppContext, rt: Runtime, episodes: int) -> dict[str, Any]:
    """Start planning ``episodes`` more episodes in the background; the state (``designing``)."""
    ctx.manager.extend(rt, episodes)
    return session_state(ctx, rt)


def set_share(ctx: AppContext, rt: Runtime, share: bool) -> dict[str, Any]:
    """Record whether the person lets their estimated taste join the population prior."""
    ctx.store.set_share(rt.sid, bool(share))
    rt.forget_row()  # re-read: the cached row holds the old choice
    return {"id": rt.sid, "share": bool(share)}


# -- images and exports ------------------------------------------------------------------------
def _render(ctx: AppContext, sid: str, prompt: str, seed: int) -> Path:
    gen = ctx.generator
    if gen is None:
        raise NotFound("no image generator is configured")
    path = ctx.cache.get(gen, prompt, seed)
    ctx.store.record_image(sid, prompt=prompt, seed=seed, model_id=gen.model_id, path=str(path))
    return path


def option_image(ctx: AppContext, rt: Runtime, qid: str, position: int) -> Path:
    """The PNG of the option at screen ``position`` of question ``qid`` of this session."""
    shown = ctx.store.get_question(rt.sid, qid)
    if shown is None:
        raise NotFound("question not found in this session")
    if not 0 <= position < len(shown["display_order"]):
        raise NotFound("no such option")
    i = shown["display_order"][position]
    return _render(ctx, rt.sid, shown["options"][i], shown["seeds"][i])


def result_image(ctx: AppContext, rt: Runtime, n: int) -> Path:
    """The PNG of the ``n``-th best prompt (0-based) of the session's result."""
    prompts = session_result(ctx, rt)["prompts"]
    if not 0 <= n < len(prompts):
        raise NotFound("no such prompt")
    text = prompts[n]["text"]
    return _render(ctx, rt.sid, text, seed_for(text, ctx.store.get_session(rt.sid)["image_seed"]))


def session_export(ctx: AppContext, rt: Runtime, fmt: str, *, cached_only: bool = False) -> Export | None:
    """The export of the session in the registered format ``fmt``; a format that needs the
    personalizer (``needs_model``) needs the session ready. ``cached_only``: None instead of
    building a model export unless it is a lookup (a ``from_result`` format whose results are
    cached, :func:`result_cached`)."""
    if fmt not in FORMATS:
        raise Unprocessable(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    form = FORMATS.get(fmt)
    if form.needs_model:
        with rt.lock:
            if cached_only:  # (result_cached also brings rt in step with the store)
                if not (form.from_result and result_cached(ctx, rt)):
                    return None
            else:
                ready(rt)
                fresh(ctx, rt)
            return build_export(ctx.store, rt.sid, fmt, personalizer=rt.p)
    return build_export(ctx.store, rt.sid, fmt)
