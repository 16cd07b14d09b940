"""Live sessions: one ``Personalizer`` per session, kept in memory, rebuilt from the store on demand.

The store is the source of truth; an in-memory personalizer is a cache of what
:func:`edpbrl.replay.restore` rebuilds from it. Designs and replays run in background threads and
report progress, so no HTTP request waits long on them.

Memory stays bounded: live sessions are a least-recently-used cache (``max_live`` sessions at most;
sessions idle for ``idle_seconds`` are dropped) and a dropped session is restored from the store
on its next request. Restoring is cheap: the sessions of a server share one encoder, one prompt
MDP (the token features) and one static design per settings, and replaying answers needs no
encoder call (option features are encoded when an estimate first needs them).

Several server processes may serve one session from one shared store (a SQLite file or a
PostgreSQL database): each keeps its own personalizer, and :meth:`SessionManager.sync` brings it
in step with the store before it is used (the ids of the live answers it holds and the number of
extensions it applied are compared with the store's; answers another process recorded are
replayed, answers it undid are undone, and when that is not possible the session is rebuilt from
the store).
"""

from __future__ import annotations

import queue
import random
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..embed.base import check_texts
from ..embed.minilm import resolve_auto_spec
from ..errors import EdpbrlError, SessionError
from ..render import seed_for
from ..replay import replay, restore
from ..store import Store


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class Runtime:
    """One session's in-memory state. ``lock`` serialises everything that touches ``p``.

    ``pins`` counts requests using the runtime (a pinned runtime is never evicted); ``row`` is the
    session's stored row and ``shown`` the stored row of the question on screen, both cached so
    that showing and answering a question touch the store only to write. ``row`` is read without
    ``lock`` (see :meth:`SessionManager.session_row`): change it only through :meth:`forget_row`
    and :meth:`keep_row`, which count its generations so that a row read before a change is never
    cached after it.
    """

    sid: str
    state: str = "designing"  # designing | loading | ready | error
    progress: dict[str, Any] = field(default_factory=lambda: {"done": 0, "total": 0, "message": ""})
    error: str | None = None
    p: Any = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    cache: dict[str, Any] = field(default_factory=dict)  # derived values keyed by answer count
    row: dict | None = None
    shown: dict | None = None
    pins: int = 0
    evicted: bool = False
    last_used: float = field(default_factory=time.monotonic)
    loaded: threading.Event = field(default_factory=threading.Event)  # set once ready or failed
    synced: list[int] = field(default_factory=list)  # store ids of the live answers ``p`` holds
    n_ext: int = 0  # stored extensions ``p`` has applied
    row_lock: threading.Lock = field(default_factory=threading.Lock)  # guards row and row_gen only
    row_gen: int = 0  # bumped whenever the stored row may have changed

    def forget_row(self) -> None:
        """The stored row may have changed: drop the cached one (and any read still in flight)."""
        self.keep_row(None)

    def keep_row(self, row: dict | None, gen: int | None = None) -> None:
        """Cache ``row``: with ``gen``, a row read from the store when the generation was ``gen``
        (dropped when a change came since); without, the row as it is now, recorded by a change
        (under a lock that serialises changes), which starts a new generation."""
        with self.row_lock:
            if gen is None:
                self.row, self.row_gen = row, self.row_gen + 1
            elif gen == self.row_gen:
                self.row = row

    def set_progress(self, done: int, total: int, message: str = "") -> None:
        self.progress = {"done": int(done), "total": int(total), "message": str(message)}

    def reporter(self) -> Callable[..., None]:
        """:meth:`set_progress` for the personalizer to keep, holding this runtime weakly: a
        strong reference would make runtime → personalizer → runtime a cycle, and an evicted
        session's tensors would then wait for a full garbage collection (rare in a server holding
        many objects) instead of being freed at once."""
        ref = weakref.ref(self)

        def report(done: int, total: int, message: str = "") -> None:
            rt = ref()
            if rt is not None:
                rt.set_progress(done, total, message)

        return report

    def finish(self, state: str, error: str | None = None) -> None:
        self.error = error  # before the state: readers take the state first (session_state)
        self.state = state
        self.loaded.set()


class SharedEmbedder:
    """One encoder for every session of a server, safe to call from many threads.

    ``inner`` is one encoder or a list of equivalent copies (each with its own model and
    tokenizer, which is not thread-safe): as many calls run at once as there are copies. Rows
    already encoded are served from an in-memory LRU of ``rows`` texts without waiting for a copy,
    and rows :meth:`pin` ned (a question bank's options) are kept for the server's life.
    """

    def __init__(self, inner: Any, rows: int = 20_000):
        copies = list(inner) if isinstance(inner, list | tuple) else [inner]
        self.inner = copies[0]
        self.name = self.inner.name
        self.dim = self.inner.dim
        self.copies = len(copies)
        self.rows = int(rows)
        self.split_min = 8  # texts per copy before a call is split over idle copies
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pinned: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()
        self._pool: queue.LifoQueue = queue.LifoQueue()
        for c in copies:
            self._pool.put(c)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def _run(self, texts: list[str]) -> np.ndarray:
        """Encode on one copy; a long call is split over the copies that are idle right now (so
        one person's results use every core when the server is quiet, and no more when busy)."""
        copies = [self._pool.get()]
        while len(texts) >= self.split_min * (len(copies) + 1):
            try:
                copies.append(self._pool.get_nowait())
            except queue.Empty:
                break
        try:
            if len(copies) == 1:
                return np.asarray(copies[0].encode(texts), dtype=np.float32)
            m = len(copies)
            parts: list = [None] * m  # interleaved chunks: similar lengths, similar work
            errors: list[BaseException] = []

            def work(i: int) -> None:
                try:
                    parts[i] = np.asarray(copies[i].encode(texts[i::m]), dtype=np.float32)
                except BaseException as exc:  # re-raised in the calling thread
                    errors.append(exc)

            helpers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(1, m)]
            for t in helpers:
                t.start()
            work(0)
            for t in helpers:
                t.join()
            if errors:
                raise errors[0]
            out = np.empty((len(texts), self.dim), dtype=np.float32)
            for i, part in enumerate(parts):
                out[i::m] = part
            return out
        finally:
            for c in copies:
                self._pool.put(c)

    def _fresh(self, texts: list[str]) -> tuple[np.ndarray, bool]:
        """Rows of ``texts`` not held in memory, and whether they had to be encoded: a call
        cached on disk (the vocabulary's tokens after a restart) needs no encoder copy, so it is
        served while the copies are busy, e.g. loading their models at warm-up."""
        lookup = getattr(self.inner, "cached", None)
        rows = lookup(texts) if lookup is not None else None
        return (self._run(texts), True) if rows is None else (rows, False)

    def encode(self, texts):
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        with self._cache_lock:
            for t in texts:
                row = self._pinned.get(t)
                if row is not None:
                    found[t] = row
                    continue
                row = self._rows.get(t)
                if row is not None:
                    self._rows.move_to_end(t)
                    found[t] = row
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            new, _ = self._fresh(missing)
            with self._cache_lock:
                for t, row in zip(missing, new, strict=True):
                    found[t] = row
                    # a copy: a view would keep its whole batch alive while any one of its rows
                    # is cached, so the LRU's memory would not be bounded by its row count
                    self._rows[t] = row.copy()
                while len(self._rows) > self.rows:
                    self._rows.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def pin(self, texts) -> int:
        """Encode ``texts`` (one batch over every idle copy, or read from the disk cache of an
        earlier start) and keep their rows for the server's life; returns how many there are."""
        texts = list(dict.fromkeys(check_texts(texts)))
        if not texts:
            return 0
        rows, encoded = self._fresh(texts)
        put = getattr(self.inner, "put", None)
        if encoded and put is not None:  # the next start reads them from disk
            put(texts, rows)
        rows = np.asarray(rows, dtype=np.float32)
        with self._cache_lock:
            self._pinned.update(zip(texts, rows, strict=True))
        return len(texts)

    @property
    def n_pinned(self) -> int:
        return len(self._pinned)

    def warm(self) -> None:
        """Load every copy's model now (not on the first people's requests), at once."""
        copies = [self._pool.get() for _ in range(self.copies)]
        try:
            threads = [
                threading.Thread(
                    target=c.encode, args=([f"warm-up {time.time_ns()} {i}, a quiet harbour at dawn"],)
                )
                for i, c in enumerate(copies)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            for c in copies:
                self._pool.put(c)


# efficient rounding of the design: distinct options per question (no duplicate cards), the best
# static variant in docs/results.md, and no work in the answer path (the design is computed once
# per session; adaptive methods plan each episode when the person reaches it)
DEFAULT_METHOD = "ed-pbrl-rounded:bank=64"

RELOADING = "the session is being reloaded; try again in a moment"
# what the warm-up encodes of a question bank at most (see SessionManager._pin_bank): 64 sets of 30
# questions of K = 4 are ≈ 4,500 texts (7 MB, ≈ 25 s of MiniLM on 2 cores, once per vocabulary)
BANK_PIN_QUESTIONS = 60
BANK_PIN_TEXTS = 20_000


class ConflictError(SessionError):
    """The request is valid but clashes with the session's state (HTTP 409)."""


class InvalidAnswer(SessionError):
    """The answer does not fit the question (HTTP 422)."""


class Busy(EdpbrlError):
    """The server holds as many live sessions as it may (HTTP 429, try again later)."""

    retry_after = 30


class SessionManager:
    """Creates sessions, runs their designs and keeps their personalizers alive (an LRU of at
    most ``max_live`` sessions; those idle for ``idle_seconds`` are dropped). A spec-named encoder
    is loaded ``encoders`` times, so that as many encoder calls can run at once."""

    def __init__(
        self,
        store: Store,
        *,
        vocab: Any = None,
        embedder: Any = None,
        k: int = 4,
        episodes: int = 30,
        factory: Callable | None = None,
        max_live: int = 1000,
        idle_seconds: float = 300.0,
        min_idle: float = 10.0,
        encoders: int = 1,
        prior: Any = "none",
        max_questions: int | None = None,
        method: str = DEFAULT_METHOD,
    ):
        self.store = store
        self.method = method  # the query strategy of new sessions (restored ones keep their own)
        self.vocab = vocab
        self.embedder = embedder
        self.k = k
        self.episodes = episodes
        self._factory = factory
        self.max_live, self.idle_seconds, self.min_idle = int(max_live), float(idle_seconds), float(min_idle)
        self.encoders = max(1, int(encoders))
        # the population prior ("none", "packaged" or a file) and the person's own words (the
        # description typed at the start) move where the estimate starts; a cap on the questions
        # asked (None: every planned question; "ask more" raises it)
        self.prior = prior
        self.max_questions = max_questions
        # a spec string ("minilm", "hashing", "clip:PATH") is loaded once and shared; the stored
        # config keeps the spec so `edpbrl export` can rebuild a session without the server;
        # minilm:auto is recorded as the concrete choice (minilm or minilm:bf16) that ran.
        # (minilm:auto by default: bfloat16 where the CPU computes it natively — with AMX it halved
        # 50 people's results p50 and held no more memory once its shapes were bucketed; float32
        # elsewhere, where bfloat16 is several times slower; docs/app.md.)
        if embedder is None:
            embedder = "minilm:auto"
        self.embedder_spec = resolve_auto_spec(embedder) if isinstance(embedder, str) else None
        self._shared: Any = None if self.embedder_spec is not None else embedder
        self._live: OrderedDict[str, Runtime] = OrderedDict()
        self._guard = threading.Lock()
        self._rng = random.SystemRandom()
        self._swept = time.monotonic()
        self.evictions = 0
        self.warmup: dict[str, Any] = {"state": "cold", "seconds": None, "error": None}

    # -- lifecycle --------------------------------------------------------------------------
    def create(self, *, style: str, k: int, episodes: int, share: bool = False) -> Runtime:
        with self._guard:
            self._make_room()
        sid = self.store.create_session(style=style, k=k, episodes=episodes, share=share)
        rt = Runtime(sid, state="designing")
        with self._guard:
            self._live[sid] = rt
        self._spawn(self._design, rt, k, episodes, style)
        return rt

    def get(self, sid: str, *, wait: float = 0.0) -> Runtime | None:
        """The runtime of a stored session (``None`` if unknown); starts a restore if needed and
        waits up to ``wait`` seconds for it."""
        with self._guard:
            rt = self._live.get(sid)
            if rt is not None:
                self._live.move_to_end(sid)
                rt.last_used = time.monotonic()
                return rt
        row = self.store.get_session(sid)
        if row is None:
            return None
        with self._guard:
            rt = self._live.get(sid)
            if rt is not None:  # another request restored it meanwhile
                rt.last_used = time.monotonic()
                return rt
            self._make_room()
            rt = Runtime(sid, state="loading", row=row)
            self._live[sid] = rt
        if row["config"] is None:
            # the server stopped while designing: design again with the stored settings
            rt.state = "designing"
            self._spawn(self._design, rt, row["k"], row["episodes"], row["style"])
        else:
            self._spawn(self._load, rt)
        if wait > 0:
            rt.loaded.wait(wait)
        return rt

    @contextmanager
    def checkout(self, sid: str, *, wait: float = 0.0) -> Iterator[Runtime | None]:
        """:meth:`get`, with the runtime pinned (never evicted) until the block ends."""
        rt = self.get(sid, wait=wait)
        if rt is None:
            yield None
            return
        with self._guard:
            rt.pins += 1
        try:
            yield rt
        finally:
            with self._guard:
                rt.pins -= 1
                rt.last_used = time.monotonic()

    def forget(self, sid: str) -> None:
        """Drop the in-memory copy; the next ``get`` rebuilds it from the store."""
        with self._guard:
            rt = self._live.pop(sid, None)
            if rt is not None:
                rt.evicted = True

    @property
    def n_live(self) -> int:
        return len(self._live)

    def _evictable(self, rt: Runtime, now: float, idle: float) -> bool:
        if rt.pins or rt.state not in ("ready", "error") or now - rt.last_used < idle:
            return False
        if not rt.lock.acquire(blocking=False):  # in use by a request or a background thread
            return False
        rt.evicted = True
        rt.lock.release()
        return True

    def _make_room(self) -> None:
        """(guard held) Drop sessions idle for ``idle_seconds``; then, at ``max_live``, the least
        recently used one idle for ``min_idle``; :class:`Busy` if none can go."""
        now = time.monotonic()
        if now - self._swept > 5 or len(self._live) >= self.max_live:
            self._swept = now
            for sid in [s for s, rt in self._live.items() if self._evictable(rt, now, self.idle_seconds)]:
                del self._live[sid]
                self.evictions += 1
        while len(self._live) >= self.max_live:
            victim = next(
                (s for s, rt in self._live.items() if self._evictable(rt, now, self.min_idle)), None
            )
            if victim is None:
                raise Busy(
                    f"the server is busy: {len(self._live)} sessions are active; try again in a minute"
                )
            del self._live[victim]
            self.evictions += 1

    def shared_embedder(self) -> Any:
        with self._guard:
            if self._shared is None:
                from ..embed import CachedEmbedder, load_embedder

                copies = [load_embedder(self.embedder_spec) for _ in range(self.encoders)]
                for inner in copies:
                    if isinstance(inner, CachedEmbedder):
                        # the disk cache serves the vocabulary's token features after a restart;
                        # the many small calls of answers and results stay in memory only
                        inner.memory_rows, inner.disk_min = 0, 256
                self._shared = SharedEmbedder(copies)
            return self._shared

    def warm(self) -> None:
        """Build the default settings' MDP and design and load the encoder model, so that the
        first people neither wait for them nor see a frozen question (``warmup`` tells)."""
        t0 = time.perf_counter()
        self.warmup = {"state": "warming", "seconds": None, "error": None}
        try:
            emb = self.shared_embedder()
            warm = getattr(emb, "warm", None) or (lambda: emb.encode(["warm-up"]))
            if self._factory is not None:  # someone else's personalizers: only the encoder
                warm()
                self.warmup = {"state": "ready", "seconds": round(time.perf_counter() - t0, 3), "error": None}
                return
            p = self._make(self.k, self.episodes, lambda *a: None)  # MDP + design + prior, shared
            warm()
            # one short session through every code path people use (estimate, summary, beam
            # search), so that no first request pays for lazy imports and first-call set-up
            for _ in range(2):
                q = p.ask()
                if q is None:
                    break
                p.tell(q, 0)
            p.summary(top=1)
            p.best_prompts(n=1, beam=2, shortlist=2)
            p.confidence()  # encodes the candidate prompts every session's results share
            bank = self._pin_bank(p, emb)
        except Exception as exc:  # the sessions will report it; the server stays up
            self.warmup = {"state": "failed", "seconds": time.perf_counter() - t0, "error": _one_line(exc)}
            return
        self.warmup = {"state": "ready", "seconds": round(time.perf_counter() - t0, 3), "error": None}
        if bank is not None:
            self.warmup["bank"] = bank

    def _pin_bank(self, p: Any, emb: Any) -> dict | None:
        """Encode the options of the questions every set of the method's question bank asks
        (``bank=B``, up to the question cap) once, so that no person's answers need the encoder.
        At most the first ``BANK_PIN_QUESTIONS`` questions of a set and ``BANK_PIN_TEXTS`` texts in
        all (a large bank or no question cap would make the first start slow): the rest are
        encoded when asked, as without a bank."""
        bank = int(getattr(p.strategy, "bank", 0) or 0)
        pin = getattr(emb, "pin", None)
        if not bank or pin is None or not hasattr(p.strategy, "bank_plan"):
            return None
        per_set = min(self.max_questions or BANK_PIN_QUESTIONS, BANK_PIN_QUESTIONS)
        texts: dict[str, None] = {}
        sets = 0
        for b in range(bank):
            new = p.question_texts(p.strategy.bank_plan(p.ctx, b, self.episodes), per_set)
            if len(texts) + len(new) > BANK_PIN_TEXTS:
                break
            texts.update(dict.fromkeys(new))
            sets += 1
        return {"sets": bank, "pinned_sets": sets, "texts": pin(list(texts))}

    def _spawn(self, fn, *args) -> None:
        threading.Thread(target=fn, args=args, daemon=True, name=f"edpbrl-{fn.__name__}").start()

    def _make(self, k: int, episodes: int, progress: Callable, words: str | None = None):
        if self._factory is not None:
            return self._factory(k=k, episodes=episodes, progress=progress)
        from ..personalizer import Personalizer
        from ..stopping import StopRule

        with_prior = self.prior not in (None, "none")

        return Personalizer.default(
            k=k,
            episodes=episodes,
            method=self.method,
            seed=self._rng.randrange(2**31),
            vocabulary=self.vocab,
            embedder=self.shared_embedder(),
            progress=progress,
            prior=self.prior if with_prior else "none",
            words=(words or "").strip() or None if with_prior else None,
            stop=StopRule(max_questions=self.max_questions) if self.max_questions else None,
        )

    def _design(self, rt: Runtime, k: int, episodes: int, words: str | None = None) -> None:
        t0 = time.perf_counter()
        rt.set_progress(0, 1, "computing the design")
        try:
            p = self._make(k, episodes, rt.reporter(), words)
            cert = p.certificate
            config = dict(p.config)
            if self.embedder_spec is not None and self._factory is None:
                config["embedder"] = self.embedder_spec
            self.store.set_design(
                rt.sid,
                config=config,
                certificate=dict(cert) if cert is not None else None,
                n_questions=p.n_to_ask,
                seconds=time.perf_counter() - t0,
            )
        except Exception as exc:  # report any failure on the page, keep the server alive
            rt.finish("error", _one_line(exc))
            self.store.set_status(rt.sid, "error", rt.error)
            return
        with rt.lock:
            rt.p, rt.synced, rt.n_ext = p, [], 0
            rt.forget_row()
            rt.finish("ready")

    def _load(self, rt: Runtime) -> None:
        rt.set_progress(0, 1, "restoring the session")
        try:
            answers = self.store.live_answers(rt.sid)  # first: see restore()
            row = self.store.get_session(rt.sid)
            p = restore(
                self.store,
                rt.sid,
                embedder=self.shared_embedder(),
                progress=rt.reporter(),
                row=row,
                answers=answers,
            )
        except Exception as exc:
            rt.finish("error", _one_line(exc))
            return
        with rt.lock:
            rt.p, rt.synced, rt.n_ext = p, [a["id"] for a in answers], len(row["extensions"])
            rt.keep_row(row)
            rt.shown = None
            rt.cache.clear()
            rt.finish("ready")

    def _reload(self, rt: Runtime) -> None:
        """Rebuild ``rt``'s personalizer from the store in the background (state ``loading``)."""
        rt.state, rt.p, rt.shown = "loading", None, None
        rt.forget_row()
        rt.loaded.clear()
        rt.cache.clear()
        self._spawn(self._load, rt)

    def sync(self, rt: Runtime) -> bool:
        """Bring ``rt.p`` in step with the store (call with ``rt.lock`` held): what another
        process (or an undo) changed since this one last looked is undone or replayed. True when
        ``rt.p`` is now in step; False when it could not be and a rebuild started (state
        ``loading``)."""
        if rt.p is None:
            return False
        ids = self.store.live_answer_ids(rt.sid)  # (the rows only when something changed)
        row = self.store.get_session(rt.sid)
        exts = row["extensions"] if row is not None else []
        if ids == rt.synced and len(exts) == rt.n_ext:
            return True
        live = self.store.live_answers(rt.sid)
        ids = [a["id"] for a in live]
        keep = 0  # answers both hold, in the same order
        while keep < min(len(ids), len(rt.synced)) and ids[keep] == rt.synced[keep]:
            keep += 1
        rt.forget_row()
        rt.shown = None
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

    def in_step(self, rt: Runtime) -> bool:
        """:meth:`sync` (another process may have changed the session: both SQLite files and
        PostgreSQL databases can be shared by several server processes)."""
        return self.sync(rt)

    def extend(self, rt: Runtime, episodes: int) -> None:
        """Plan more questions in the background (state goes to ``designing`` meanwhile)."""
        with rt.lock:
            if rt.state != "ready":
                raise SessionError(f"session is {rt.state}; try again when it is ready")
            rt.state = "designing"
            rt.loaded.clear()
            rt.set_progress(0, 1, "planning more questions")
        self._spawn(self._extend, rt, episodes)

    def _extend(self, rt: Runtime, episodes: int) -> None:
        with rt.lock:
            try:
                if not self.in_step(rt):
                    return  # changed elsewhere beyond replay: it is being rebuilt (ask again then)
                rt.p.extend(episodes)
                self.store.add_extension(
                    rt.sid, episodes=episodes, after=len(rt.synced), n_questions=rt.p.n_to_ask
                )
            except Exception as exc:
                rt.finish("error", _one_line(exc))
                self.forget(rt.sid)  # rebuild from the store next time
                return
            rt.cache.clear()
            rt.forget_row()
            if len(self.session_row(rt)["extensions"]) == rt.n_ext + 1:
                rt.n_ext += 1
                rt.finish("ready")
            else:  # another process extended the session at the same time: rebuild from the store
                self._reload(rt)

    # -- questions and answers (call with rt.lock held) ---------------------------------------
    def session_row(self, rt: Runtime) -> dict:
        """The session's stored row (cached in the runtime; re-read after a design or extend).

        Safe without ``rt.lock``: a row read while a design, restore, extension or sharing change
        was being recorded is returned to this caller but not cached (:meth:`Runtime.keep_row`)."""
        with rt.row_lock:
            row, gen = rt.row, rt.row_gen
        if row is None or row.get("config") is None:
            row = self.store.get_session(rt.sid)
            rt.keep_row(row, gen)
        return row

    def current(self, rt: Runtime) -> tuple[Any, dict] | None:
        """``(query, shown-question row)`` for the question to show now, or ``None`` when done."""
        q = rt.p.ask()
        if q is None:
            return None
        options = list(q.options)
        shown = rt.shown
        if shown is not None and shown["idx"] == q.index and shown["options"] == options:
            return q, shown
        row = self.session_row(rt)
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
        rt.shown = shown
        return q, shown

    def answer(self, rt: Runtime, qid: str, action: str, position: int | None) -> None:
        """Apply one answer to the personalizer and commit it to the store (both or neither)."""
        if not self.in_step(rt):
            raise ConflictError(RELOADING)
        cur = self.current(rt)
        if cur is not None and cur[1]["id"] == qid:
            shown = cur[1]
        else:
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
        rt.shown = None
        rt.cache.clear()

    def undo(self, rt: Runtime) -> dict | None:
        """Undo the session's last live answer in the store, then in the personalizer."""
        if not self.in_step(rt):
            raise ConflictError(RELOADING)
        row = self.store.undo_last(rt.sid)
        if row is None:
            return None
        rt.shown = None
        self.sync(rt)  # takes the undone answer out of the personalizer
        rt.cache.clear()
        return row

    def _is_answered(self, sid: str, qid: str) -> bool:
        return any(a["question_id"] == qid for a in self.store.live_answers(sid))
