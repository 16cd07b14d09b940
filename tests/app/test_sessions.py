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
