"""SQLite specifics: URLs, WAL journal, schema, refusing to create when asked to open."""

from __future__ import annotations

import sqlite3

import pytest

from edpbrl.store import SQLiteStore, StoreError, open_store


def test_open_store_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_store("a.db").path.name == "a.db"
    assert open_store("sqlite:///rel.db").path == tmp_path.joinpath("rel.db").relative_to(tmp_path)
    s = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert s.path == tmp_path / "abs.db" and s.url.startswith("sqlite:///")
    assert open_store(tmp_path / "sub" / "dir" / "x.db").path.is_file()
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("mysql://x")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        open_store(tmp_path / "junk.db")


def test_open_without_create(tmp_path):
    with pytest.raises(StoreError, match="database not found"):
        open_store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    open_store(tmp_path / "there.db")
    assert open_store(tmp_path / "there.db", create=False).path.is_file()


def test_wal_and_schema(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "questions", "answers", "images"} <= tables
    assert store.media_dir() == tmp_path / "s-images"


def test_a_store_from_before_sharing_gains_the_column(tmp_path):
    """A database written before sessions could share their taste opens, every session private."""
    import sqlite3

    from edpbrl.store import open_store

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:
        c.execute(
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
            " style TEXT NOT NULL DEFAULT '', k INTEGER NOT NULL, episodes INTEGER NOT NULL,"
            " image_seed INTEGER NOT NULL, status TEXT NOT NULL, error TEXT, config TEXT, certificate TEXT,"
            " n_questions INTEGER, extensions TEXT NOT NULL DEFAULT '[]', design_seconds REAL)"
        )
        c.execute("INSERT INTO sessions (id, created_at, updated_at, k, episodes, image_seed, status)"
                  " VALUES ('old', 1, 1, 3, 1, 7, 'ready')")  # fmt: skip
    store = open_store(path)
    assert store.get_session("old")["share"] is False and store.shared_session_ids() == []


def test_a_finished_threads_connection_is_closed_without_the_garbage_collector(tmp_path, monkeypatch):
    """The app designs and restores each session in a thread of its own; each thread's connection
    must be closed when the thread ends, not when a (rare) full garbage collection finds it."""
    import gc
    import threading

    import edpbrl.store.sqlite as backend

    opened = []
    connect = backend.sqlite3.connect
    monkeypatch.setattr(
        backend.sqlite3, "connect", lambda *a, **k: opened.append(connect(*a, **k)) or opened[-1]
    )
    store = SQLiteStore(tmp_path / "s.db")
    gc.collect()
    gc.disable()
    try:
        t = threading.Thread(
            target=lambda: store.get_session(store.create_session(style="x", k=2, episodes=1))
        )
        t.start()
        t.join()
        assert len(opened) == 2  # the opening thread's, then the worker's
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            opened[1].execute("SELECT 1")
        assert opened[0].execute("SELECT 1").fetchone()  # this thread's stays open for reuse
        assert store.session_ids()  # and serves the next call
    finally:
        gc.enable()
