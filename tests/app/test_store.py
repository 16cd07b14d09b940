"""The SQLite store and the session runtime, without HTTP."""

from __future__ import annotations

import sqlite3
import time

import pytest

from edpbrl.app.sessions import SessionManager
from edpbrl.replay import ReplayError, replay, restore
from edpbrl.store import AlreadyAnswered, SQLiteStore, StoreError, open_store


def _question(store, sid, idx=0, options=("a", "b", "c")):
    return store.open_question(
        sid,
        idx=idx,
        episode=0,
        step=idx,
        slot="subject",
        options=list(options),
        display_order=[2, 0, 1],
        seeds=[1, 2, 3],
    )


def test_open_store_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_store("a.db").path.name == "a.db"
    assert open_store("sqlite:///rel.db").path == tmp_path.joinpath("rel.db").relative_to(tmp_path)
    s = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert s.path == tmp_path / "abs.db" and s.url.startswith("sqlite:///")
    assert open_store(tmp_path / "sub" / "dir" / "x.db").path.is_file()
    with pytest.raises(StoreError, match="PostgreSQL"):
        open_store("postgresql://user@host/db")
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("mysql://x")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        open_store(tmp_path / "junk.db")


def test_wal_and_schema(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "questions", "answers", "images"} <= tables


def test_session_lifecycle(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    sid = store.create_session(style="misty", k=3, episodes=2)
    row = store.get_session(sid)
    assert row["status"] == "designing" and row["config"] is None and row["extensions"] == []
    store.set_design(sid, config={"k": 3}, certificate={"gap": 0.1}, n_questions=6, seconds=0.5)
    row = store.get_session(sid)
    assert row["status"] == "ready" and row["config"] == {"k": 3} and row["certificate"]["gap"] == 0.1
    store.add_extension(sid, episodes=2, after=4, n_questions=12)
    row = store.get_session(sid)
    assert row["extensions"] == [{"episodes": 2, "after": 4}] and row["n_questions"] == 12
    store.set_status(sid, "error", "boom")
    assert store.get_session(sid)["error"] == "boom"
    assert store.get_session("nope") is None and sid in store.session_ids()


def test_answers_are_unique_per_question_and_undo_keeps_history(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    sid = store.create_session(style="", k=3, episodes=1)
    q = _question(store, sid)
    assert _question(store, sid)["id"] == q["id"]  # reused while unanswered
    store.record_answer(sid, q["id"], action="choose", choice=2, position=0)
    with pytest.raises(AlreadyAnswered):
        store.record_answer(sid, q["id"], action="choose", choice=0, position=1)
    with pytest.raises(StoreError, match="unknown question"):
        store.record_answer(sid, "missing", action="skip")
    other = store.create_session(style="", k=3, episodes=1)
    with pytest.raises(StoreError, match="unknown question"):
        store.record_answer(other, q["id"], action="skip")  # another session's question
    assert store.get_question(other, q["id"]) is None
    undone = store.undo_last(sid)
    assert undone["question_id"] == q["id"] and undone["undone_at"] is not None
    assert store.undo_last(sid) is None
    q2 = _question(store, sid)
    assert q2["id"] == q["id"] and q2["times_shown"] == 2  # the same shown question comes back
    store.record_answer(sid, q["id"], action="no_preference")
    live, every = store.live_answers(sid), store.answers(sid)
    assert [a["action"] for a in live] == ["no_preference"] and len(every) == 2
    assert live[0]["options"] == ["a", "b", "c"] and live[0]["display_order"] == [2, 0, 1]
    # a new question after an answer gets a new row
    time.sleep(0.001)
    q3 = _question(store, sid, idx=1)
    assert q3["id"] != q["id"] and [x["id"] for x in store.questions(sid)] == [q["id"], q3["id"]]


def test_images(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    sid = store.create_session(style="", k=2, episodes=1)
    store.record_image(sid, prompt="p", seed=1, model_id="m", path="/x.png")
    store.record_image(sid, prompt="p", seed=1, model_id="m", path="/x.png")
    assert store.images(sid) == {("p", 1): "/x.png"}


def _manager(tmp_path, vocab_dir):
    return SessionManager(SQLiteStore(tmp_path / "m.db"), vocab=str(vocab_dir), embedder="hashing")


def _wait(rt, timeout=30):
    t0 = time.monotonic()
    while rt.state in ("designing", "loading"):
        assert time.monotonic() - t0 < timeout
        time.sleep(0.01)


def test_manager_design_answer_restore(tmp_path, vocab_dir):
    m = _manager(tmp_path, vocab_dir)
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
    m2 = SessionManager(m.store, vocab=str(vocab_dir), embedder="hashing")
    rt2 = m2.get(rt.sid)
    assert rt2.state == "loading"
    _wait(rt2)
    assert rt2.state == "ready" and rt2.p.ask() == q2
    assert m2.get("unknown-session-id-xxxxxxxxxxxx") is None


def test_replay_detects_mismatch(tmp_path, vocab_dir):
    from edpbrl import Personalizer

    p = Personalizer.default(k=3, episodes=1, vocabulary=str(vocab_dir), embedder="hashing")
    q = p.ask()
    replay(p, [{"options": q.options, "idx": 0, "action": "choose", "choice": 1}])
    assert p.n_answered == 1
    with pytest.raises(ReplayError, match="does not match"):
        replay(p, [{"options": ["nope"], "idx": 1, "action": "skip", "choice": None}])
