"""Live sessions: one ``Personalizer`` per session, kept in memory, rebuilt from the store on demand.

The store is the source of truth; an in-memory personalizer is a cache of what
:func:`edpbrl.replay.restore` rebuilds from it. Designs and replays run in background threads and
report progress, so no HTTP request waits on them.

Several server processes may serve one session from one shared store (PostgreSQL): each keeps its
own personalizer, and :meth:`SessionManager.sync` brings it in step with the store before it is
used (the ids of the live answers it holds and the number of extensions it applied are compared
with the store's; answers another process recorded are replayed, answers it undid are undone, and
when that is not possible the session is rebuilt from the store).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import SessionError
from ..render import seed_for
from ..replay import replay, restore
from ..store import Store


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class Runtime:
    """One session's in-memory state. ``lock`` serialises everything that touches ``p``."""

    sid: str
    state: str = "designing"  # designing | loading | ready | error
    progress: dict[str, Any] = field(default_factory=lambda: {"done": 0, "total": 0, "message": ""})
    error: str | None = None
    p: Any = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    cache: dict[str, Any] = field(default_factory=dict)  # derived values keyed by answer count
    synced: list[int] = field(default_factory=list)  # store ids of the live answers ``p`` holds
    n_ext: int = 0  # stored extensions ``p`` has applied

    def set_progress(self, done: int, total: int, message: str = "") -> None:
        self.progress = {"done": int(done), "total": int(total), "message": str(message)}


class SharedEmbedder:
    """One encoder for every session of a server (loaded once), safe to call from many threads."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.name = inner.name
        self._lock = threading.Lock()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def encode(self, texts):
        with self._lock:
            return self.inner.encode(texts)


class SessionManager:
    """Creates sessions, runs their designs and keeps their personalizers alive."""

    def __init__(
        self,
        store: Store,
        *,
        vocab: Any = None,
        embedder: Any = None,
        k: int = 4,
        episodes: int = 30,
        factory: Callable | None = None,
    ):
        self.store = store
        self.vocab = vocab
        self.embedder = embedder
        self.k = k
        self.episodes = episodes
        self._factory = factory
        # a spec string ("minilm", "hashing", "clip:PATH") is loaded once and shared; the stored
        # config keeps the spec so `edpbrl export` can rebuild a session without the server
        self.embedder_spec = "minilm" if embedder is None else embedder if isinstance(embedder, str) else None
        self._shared: Any = None if self.embedder_spec is not None else embedder
        self._live: dict[str, Runtime] = {}
        self._guard = threading.Lock()
        self._rng = random.SystemRandom()

    # -- lifecycle --------------------------------------------------------------------------
    def create(self, *, style: str, k: int, episodes: int) -> Runtime:
        sid = self.store.create_session(style=style, k=k, episodes=episodes)
        rt = Runtime(sid, state="designing")
        with self._guard:
            self._live[sid] = rt
        self._spawn(self._design, rt, k, episodes)
        return rt

    def get(self, sid: str) -> Runtime | None:
        """The runtime of a stored session (``None`` if unknown); starts a resume if needed."""
        with self._guard:
            rt = self._live.get(sid)
            if rt is not None:
                return rt
            row = self.store.get_session(sid)
            if row is None:
                return None
            rt = Runtime(sid, state="loading")
            self._live[sid] = rt
        if row["config"] is None:
            # the server stopped while designing: design again with the stored settings
            rt.state = "designing"
            self._spawn(self._design, rt, row["k"], row["episodes"])
        else:
            self._spawn(self._load, rt)
        return rt

    def forget(self, sid: str) -> None:
        """Drop the in-memory copy; the next ``get`` rebuilds it from the store."""
        with self._guard:
            self._live.pop(sid, None)

    def shared_embedder(self) -> Any:
        with self._guard:
            if self._shared is None:
                from ..embed import load_embedder

                self._shared = SharedEmbedder(load_embedder(self.embedder_spec))
            return self._shared

    def _spawn(self, fn, *args) -> None:
        threading.Thread(target=fn, args=args, daemon=True, name=f"edpbrl-{fn.__name__}").start()

    def _make(self, k: int, episodes: int, progress: Callable):
        if self._factory is not None:
            return self._factory(k=k, episodes=episodes, progress=progress)
        from ..personalizer import Personalizer

        # efficient rounding of the design: distinct options per question (no duplicate cards)
        # and the best static variant in docs/results.md
        return Personalizer.default(
            k=k,
            episodes=episodes,
            method="ed-pbrl-rounded",
            seed=self._rng.randrange(2**31),
            vocabulary=self.vocab,
            embedder=self.shared_embedder(),
            progress=progress,
        )

    def _design(self, rt: Runtime, k: int, episodes: int) -> None:
        t0 = time.perf_counter()
        rt.set_progress(0, 1, "computing the design")
        try:
            p = self._make(k, episodes, rt.set_progress)
            cert = p.certificate
            config = dict(p.config)
            if self.embedder_spec is not None and self._factory is None:
                config["embedder"] = self.embedder_spec
            self.store.set_design(
                rt.sid,
                config=config,
                certificate=dict(cert) if cert is not None else None,
                n_questions=p.n_questions,
                seconds=time.perf_counter() - t0,
            )
        except Exception as exc:  # report any failure on the page, keep the server alive
            rt.state, rt.error = "error", _one_line(exc)
            self.store.set_status(rt.sid, "error", rt.error)
            return
        with rt.lock:
            rt.p, rt.synced, rt.n_ext = p, [], 0
            rt.state = "ready"

    def _load(self, rt: Runtime) -> None:
        rt.set_progress(0, 1, "restoring the session")
        try:
            answers = self.store.live_answers(rt.sid)  # first: see restore()
            row = self.store.get_session(rt.sid)
            p = restore(
                self.store,
                rt.sid,
                embedder=self.shared_embedder(),
                progress=rt.set_progress,
                row=row,
                answers=answers,
            )
        except Exception as exc:
            rt.state, rt.error = "error", _one_line(exc)
            return
        with rt.lock:
            rt.p, rt.synced, rt.n_ext = p, [a["id"] for a in answers], len(row["extensions"])
            rt.cache.clear()
            rt.state = "ready"

    def _reload(self, rt: Runtime) -> None:
        """Rebuild ``rt``'s personalizer from the store in the background (state ``loading``)."""
        rt.state, rt.p = "loading", None
        rt.cache.clear()
        self._spawn(self._load, rt)

    def sync(self, rt: Runtime) -> bool:
        """Bring ``rt.p`` in step with the store (call with ``rt.lock`` held): what another
        process (or an undo) changed since this one last looked is undone or replayed. True when
        ``rt.p`` is now in step; False when it could not be and a rebuild started (state
        ``loading``)."""
        if rt.p is None:
            return False
        live = self.store.live_answers(rt.sid)
        ids = [a["id"] for a in live]
        row = self.store.get_session(rt.sid)
        exts = row["extensions"] if row is not None else []
        if ids == rt.synced and len(exts) == rt.n_ext:
            return True
        keep = 0  # answers both hold, in the same order
        while keep < min(len(ids), len(rt.synced)) and ids[keep] == rt.synced[keep]:
            keep += 1
        try:
            for _ in range(len(rt.synced) - keep):
                if not rt.p.undo():
                    raise RuntimeError("nothing to undo")
            # an extension stored since rt.n_ext came after every answer kept (see docs/app.md)
            new = [{"episodes": e["episodes"], "after": e["after"] - keep} for e in exts[rt.n_ext :]]
            replay(rt.p, live[keep:], new)
        except Exception:
            self._reload(rt)
            return False
        rt.synced, rt.n_ext = ids, len(exts)
        rt.cache.clear()
        return True

    def extend(self, rt: Runtime, episodes: int) -> None:
        """Plan more questions in the background (state goes to ``designing`` meanwhile)."""
        with rt.lock:
            if rt.state != "ready":
                raise SessionError(f"session is {rt.state}; try again when it is ready")
            rt.state = "designing"
            rt.set_progress(0, 1, "planning more questions")
        self._spawn(self._extend, rt, episodes)

    def _extend(self, rt: Runtime, episodes: int) -> None:
        with rt.lock:
            try:
                if not self.sync(rt):
                    return  # changed elsewhere beyond replay: it is being rebuilt (ask again then)
                rt.p.extend(episodes)
                self.store.add_extension(
                    rt.sid, episodes=episodes, after=len(rt.synced), n_questions=rt.p.n_questions
                )
            except Exception as exc:
                rt.state, rt.error = "error", _one_line(exc)
                self.forget(rt.sid)  # rebuild from the store next time
                return
            rt.cache.clear()
            if len(self.store.get_session(rt.sid)["extensions"]) == rt.n_ext + 1:
                rt.n_ext += 1
                rt.state = "ready"
            else:  # another process extended the session at the same time: rebuild from the store
                self._reload(rt)

    # -- questions and answers (call with rt.lock held) ---------------------------------------
    def current(self, rt: Runtime) -> tuple[Any, dict] | None:
        """``(query, shown-question row)`` for the question to show now, or ``None`` when done
        (call :meth:`sync` first when another process may share the store)."""
        q = rt.p.ask()
        if q is None:
            return None
        row = self.store.get_session(rt.sid)
        options = list(q.options)
        # identical texts are shown once (choosing either is the same answer); the on-screen
        # order is shuffled against position bias and recorded with the row
        order = list({text: i for i, text in reversed(list(enumerate(options)))}.values())
        self._rng.shuffle(order)
        seeds = [seed_for(o, row["image_seed"]) for o in options]
        shown = self.store.open_question(
            rt.sid,
            idx=int(q.index),
            episode=getattr(q, "episode", None),
            step=getattr(q, "step", None),
            slot=getattr(q, "slot", None),
            options=options,
            display_order=order,
            seeds=seeds,
        )
        return q, shown

    def answer(self, rt: Runtime, qid: str, action: str, position: int | None) -> None:
        """Apply one answer to the personalizer and commit it to the store (both or neither)."""
        if not self.sync(rt):
            raise ConflictError(RELOADING)
        cur = self.current(rt)
        shown = self.store.get_question(rt.sid, qid)
        if shown is None:
            raise LookupError("question not found in this session")
        if cur is None:
            raise ConflictError("all questions are answered; nothing to answer")
        q, now_row = cur
        if shown["id"] != now_row["id"]:
            if self._is_answered(rt.sid, qid):
                raise ConflictError("this question has already been answered")
            raise ConflictError("this is not the current question; reload the page")
        choice = None
        if action == "choose":
            n = len(shown["display_order"])
            if position is None or not 0 <= position < n:
                raise InvalidAnswer(f"position must be in 0..{n - 1}, got {position}")
            choice = shown["display_order"][position]
        if action == "skip":
            rt.p.skip(q)
        else:
            rt.p.tell(q, choice)
        try:
            aid = self.store.record_answer(rt.sid, qid, action=action, choice=choice, position=position)
        except BaseException:
            rt.p.undo()  # keep memory and store in step
            raise
        rt.synced.append(aid)
        rt.cache.clear()

    def undo(self, rt: Runtime) -> dict | None:
        """Undo the session's last live answer in the store, then in the personalizer."""
        if not self.sync(rt):
            raise ConflictError(RELOADING)
        row = self.store.undo_last(rt.sid)
        if row is not None:
            self.sync(rt)  # takes the undone answer out of the personalizer
        rt.cache.clear()
        return row

    def _is_answered(self, sid: str, qid: str) -> bool:
        return any(a["question_id"] == qid for a in self.store.live_answers(sid))


RELOADING = "the session is being reloaded; try again in a moment"


class ConflictError(SessionError):
    """The request is valid but clashes with the session's state (HTTP 409)."""


class InvalidAnswer(SessionError):
    """The answer does not fit the question (HTTP 422)."""
