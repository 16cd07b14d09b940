"""The live-session manager, without HTTP: design in the background, answer, undo, resume."""

from __future__ import annotations

import time

from edpbrl.app.sessions import SessionManager
from edpbrl.replay import restore
from edpbrl.store import SQLiteStore


def _wait(rt, timeout=30):
    t0 = time.monotonic()
    while rt.state in ("designing", "loading"):
        assert time.monotonic() - t0 < timeout
        time.sleep(0.01)


def test_manager_design_answer_restore(tmp_path, tiny_vocab_dir):
    m = SessionManager(SQLiteStore(tmp_path / "m.db"), vocab=str(tiny_vocab_dir), embedder="hashing")
    rt = m.create(style="x", k=3, episodes=2)
    _wait(rt)
    assert rt.state == "ready" and rt.progress["message"]
    with rt.lock:
        q, shown = m.current(rt)
        m.answer(rt, shown["id"], "choose", 0)
        q2, shown2 = m.current(rt)
        m.answer(rt, shown2["id"], "skip", None)
        assert m.undo(rt)["action"] == "skip"
    p = restore(m.store, rt.sid)
    assert p.n_answered == 1 and p.ask() == q2
    assert (p.fit() == rt.p.fit()).all()
    m2 = SessionManager(m.store, vocab=str(tiny_vocab_dir), embedder="hashing")
    rt2 = m2.get(rt.sid)
    assert rt2.state in ("loading", "ready")  # restoring is quick now: it may be done already
    _wait(rt2)
    assert rt2.state == "ready" and rt2.p.ask() == q2
    assert m2.get("unknown-session-id-xxxxxxxxxxxx") is None


def test_shared_embedder_splits_long_calls_over_idle_copies():
    import threading

    import numpy as np

    from edpbrl.app.sessions import SharedEmbedder
    from edpbrl.embed import HashingEmbedder

    class Recording(HashingEmbedder):
        def __init__(self):
            super().__init__(16)
            self.calls, self.threads = [], set()

        def encode(self, texts):
            self.calls.append(list(texts))
            self.threads.add(threading.get_ident())
            return super().encode(texts)

    a, b = Recording(), Recording()
    shared = SharedEmbedder([a, b])
    texts = [f"prompt number {i}" for i in range(40)]
    got = shared.encode(texts)
    np.testing.assert_array_equal(got, HashingEmbedder(16).encode(texts))  # order kept
    assert len(a.calls) == len(b.calls) == 1 and len(a.calls[0]) == len(b.calls[0]) == 20
    assert a.threads != b.threads
    np.testing.assert_array_equal(
        shared.encode(texts[:3] + ["new"]), HashingEmbedder(16).encode(texts[:3] + ["new"])
    )
    assert len(a.calls) + len(b.calls) == 3  # three rows from memory, one short call for "new"


def test_sync_replays_undoes_and_rebuilds(tmp_path, tiny_vocab_dir):
    """Two managers (two server processes) on one store: each brings its personalizer in step
    with the store before using it; when that cannot be done it rebuilds from the store."""
    store = SQLiteStore(tmp_path / "m.db")
    m1 = SessionManager(store, vocab=str(tiny_vocab_dir), embedder="hashing")
    m2 = SessionManager(store, vocab=str(tiny_vocab_dir), embedder="hashing")
    rt1 = m1.create(style="x", k=3, episodes=2)
    _wait(rt1)
    rt2 = m2.get(rt1.sid)
    _wait(rt2)
    with rt1.lock:
        for action in ("choose", "skip", "choose"):
            m1.answer(rt1, m1.current(rt1)[1]["id"], action, 0 if action == "choose" else None)
    assert rt2.p.n_records == 0  # stale until it looks at the store
    with rt2.lock:
        assert m2.sync(rt2) and rt2.p.n_records == 3 and rt2.synced == rt1.synced
        assert m2.current(rt2)[1]["id"] == m1.current(rt1)[1]["id"]
        assert m2.undo(rt2)["action"] == "choose"
    with rt1.lock:
        assert m1.sync(rt1) and rt1.p.n_records == 2 and rt1.p.ask() == rt2.p.ask()
    # memory that cannot be reconciled (here: an answer the store never had) is rebuilt
    rt1.synced = [10**9, *rt1.synced]
    with rt1.lock:
        assert m1.sync(rt1) is False and rt1.state == "loading"
    _wait(rt1)
    assert rt1.state == "ready" and rt1.p.n_records == 2 and rt1.synced == rt2.synced


def test_shared_embedder_serves_disk_cached_calls_while_copies_are_busy(tmp_path):
    """After a restart the vocabulary's token features come from the disk cache even while every
    encoder copy is taken (loading its model at warm-up): restoring sessions does not wait."""
    import numpy as np

    from edpbrl.app.sessions import SharedEmbedder
    from edpbrl.embed import CachedEmbedder, HashingEmbedder

    texts = [f"token {i}" for i in range(300)]
    want = CachedEmbedder(HashingEmbedder(16), cache_dir=tmp_path).encode(texts)
    copy = CachedEmbedder(HashingEmbedder(16), cache_dir=tmp_path)
    copy.memory_rows, copy.disk_min = 0, 256
    shared = SharedEmbedder([copy])
    import threading

    got = []
    taken = shared._pool.get()  # the only copy is busy
    try:
        t = threading.Thread(target=lambda: got.append(shared.encode(texts)), daemon=True)
        t.start()
        t.join(10)
        assert got, "the call waited for a busy encoder copy"
        np.testing.assert_array_equal(got[0], want)
    finally:
        shared._pool.put(taken)


def test_shared_embedder_cache_holds_its_rows_not_their_batches():
    """The LRU's memory is bounded by its row count: a cached row must not be a view that keeps
    the whole batch it was encoded in alive (the soaks' slow growth of large heap blocks)."""
    import gc
    import weakref

    import numpy as np

    from edpbrl.app.sessions import SharedEmbedder
    from edpbrl.embed import HashingEmbedder

    batches = []

    class Keeping(HashingEmbedder):
        def encode(self, texts):
            out = np.asarray(super().encode(texts), dtype=np.float32)
            batches.append(weakref.ref(out))
            return out

    shared = SharedEmbedder(Keeping(16), rows=5)
    for b in range(4):
        shared.encode([f"batch {b} text {i}" for i in range(50)])
    gc.collect()
    assert len(shared._rows) == 5 and all(r.base is None and r.shape == (16,) for r in shared._rows.values())
    assert [ref() is None for ref in batches] == [True] * 4  # every batch freed, its last rows kept
    np.testing.assert_array_equal(
        shared.encode(["batch 3 text 49"])[0], Keeping(16).encode(["batch 3 text 49"])[0]
    )


def test_shared_embedder_pins_rows_past_its_lru_and_across_restarts(tmp_path):
    """Pinned rows (a question bank's options) are served without an encoder call however many
    other rows pass through the LRU, and a second server reads them from the disk cache."""
    import numpy as np

    from edpbrl.app.sessions import SharedEmbedder
    from edpbrl.embed import CachedEmbedder, HashingEmbedder

    class Counting(HashingEmbedder):
        def __init__(self):
            super().__init__(16)
            self.texts = 0

        def encode(self, texts):
            self.texts += len(texts)
            return super().encode(texts)

    def server():
        inner = Counting()
        copy = CachedEmbedder(inner, cache_dir=tmp_path)
        copy.memory_rows, copy.disk_min = 0, 256
        return SharedEmbedder([copy], rows=10), inner

    bank = [f"bank option {i}" for i in range(300)]
    shared, inner = server()
    assert shared.pin(bank + bank[:5]) == 300 and inner.texts == 300 and shared.n_pinned == 300
    shared.encode([f"other {i}" for i in range(50)])  # more than the LRU's 10 rows
    before = inner.texts
    np.testing.assert_array_equal(shared.encode(bank[::7]), HashingEmbedder(16).encode(bank[::7]))
    assert inner.texts == before
    shared2, inner2 = server()  # a restarted server: the bank comes from disk
    assert shared2.pin(bank) == 300 and inner2.texts == 0
    np.testing.assert_array_equal(shared2.encode(bank[:3]), HashingEmbedder(16).encode(bank[:3]))
    assert inner2.texts == 0


def _warm_manager(db, vocab_dir, **kw) -> SessionManager:
    """A manager on a fresh store (hashing encoder, the tiny vocabulary), warmed up."""
    m = SessionManager(SQLiteStore(db), vocab=str(vocab_dir), embedder="hashing", **kw)
    m.warm()
    return m


def test_warm_up_encodes_the_question_bank_every_session_asks(tmp_path, tiny_vocab_dir):
    """With the default method (a question bank) the warm-up pins the options of the first
    ``max_questions`` questions of every bank set, so a person's answers need no encoder call."""
    from edpbrl.app.sessions import DEFAULT_METHOD

    assert "bank=" in DEFAULT_METHOD
    m = _warm_manager(tmp_path / "m.db", tiny_vocab_dir, k=3, episodes=4, max_questions=5)
    assert m.warmup["state"] == "ready" and m.warmup["bank"]["sets"] == m.warmup["bank"]["pinned_sets"] == 64
    pinned = m.shared_embedder()._pinned
    assert len(pinned) == m.warmup["bank"]["texts"] > 0
    for _ in range(6):
        rt = m.create(style="x", k=3, episodes=4)
        _wait(rt)
        asked = [t for q in rt.p._questions[:5] for t in q.options]
        assert asked and all(t in pinned for t in asked)
    m2 = _warm_manager(tmp_path / "m2.db", tiny_vocab_dir, method="ed-pbrl-rounded")
    assert "bank" not in m2.warmup and m2.shared_embedder().n_pinned == 0


def test_warm_up_pins_a_bounded_part_of_a_large_bank(tmp_path, tiny_vocab_dir, monkeypatch):
    """A large bank (or no question cap) does not make the first start encode without bound:
    whole sets are pinned up to the text limit, the rest are encoded when asked."""
    import edpbrl.app.sessions as sessions

    monkeypatch.setattr(sessions, "BANK_PIN_TEXTS", 100)
    m = _warm_manager(tmp_path / "m.db", tiny_vocab_dir, k=3, episodes=4, method="ed-pbrl-rounded:bank=500")
    info = m.warmup["bank"]
    assert info["sets"] == 500 and 1 <= info["pinned_sets"] < 500 and 0 < info["texts"] <= 100
    assert m.shared_embedder().n_pinned == info["texts"]


def test_an_evicted_session_is_freed_at_once_not_by_the_garbage_collector(tmp_path, tiny_vocab_dir):
    """A server holds many long-lived objects, so full garbage collections are rare: an evicted
    session whose runtime and personalizer form a reference cycle keeps its tensors for minutes
    (the soak's memory creep). Designed, restored and extended sessions must all be freed by
    reference counting alone."""
    import gc
    import weakref

    m = SessionManager(
        SQLiteStore(tmp_path / "m.db"),
        vocab=str(tiny_vocab_dir),
        embedder="hashing",
        idle_seconds=0.0,
        min_idle=0.0,
    )
    designed = m.create(style="x", k=3, episodes=2)
    _wait(designed)
    with designed.lock:
        _, shown = m.current(designed)
        m.answer(designed, shown["id"], "choose", 0)
    m.extend(designed, 1)
    _wait(designed)
    m2 = SessionManager(
        m.store, vocab=str(tiny_vocab_dir), embedder="hashing", idle_seconds=0.0, min_idle=0.0
    )
    restored = m2.get(designed.sid)
    _wait(restored)
    assert designed.state == restored.state == "ready"
    refs = [weakref.ref(o) for o in (designed, designed.p, restored, restored.p)]
    del designed, restored
    gc.collect()  # (whatever earlier tests left)
    gc.disable()
    try:
        for manager in (m, m2):
            manager._swept = 0.0
            with manager._guard:
                manager._make_room()
            assert manager.n_live == 0
        assert [r() is None for r in refs] == [True] * 4
    finally:
        gc.enable()
