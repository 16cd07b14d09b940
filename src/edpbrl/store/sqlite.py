"""The SQLite backend of :class:`~edpbrl.store.base.Store`: one file, WAL journal.

Each write is one ``BEGIN IMMEDIATE`` transaction, committed before the method returns. Writes
that a person is told about (sessions, designs, answers, undos, extensions) are synced to disk
(``synchronous=FULL``); bookkeeping of what was shown (question rows, images) survives a crash of
the process but not a power cut (``NORMAL``), and is recreated if lost. Each thread keeps its own
connection. Opened from a file path or ``sqlite:///PATH`` (``sqlite:////abs/path``).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .base import AlreadyAnswered, StoreError, check_action, new_token
from .registry import STORES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id            TEXT PRIMARY KEY,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    style         TEXT NOT NULL DEFAULT '',
    k             INTEGER NOT NULL,
    episodes      INTEGER NOT NULL,
    image_seed    INTEGER NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    config        TEXT,
    certificate   TEXT,
    n_questions   INTEGER,
    extensions    TEXT NOT NULL DEFAULT '[]',
    design_seconds REAL,
    share         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS questions (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    idx           INTEGER NOT NULL,
    episode       INTEGER,
    step          INTEGER,
    slot          TEXT,
    options       TEXT NOT NULL,
    display_order TEXT NOT NULL,
    seeds         TEXT NOT NULL,
    shown_at      REAL NOT NULL,
    last_shown_at REAL NOT NULL,
    times_shown   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS questions_by_session ON questions(session_id, idx);
CREATE TABLE IF NOT EXISTS answers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    question_id   TEXT NOT NULL REFERENCES questions(id),
    idx           INTEGER NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('choose', 'skip', 'no_preference')),
    choice        INTEGER,
    position      INTEGER,
    answered_at   REAL NOT NULL,
    seconds       REAL,
    undone_at     REAL
);
CREATE INDEX IF NOT EXISTS answers_by_session ON answers(session_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_answer ON answers(question_id) WHERE undone_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS one_live_answer_per_index ON answers(session_id, idx)
    WHERE undone_at IS NULL;
CREATE TABLE IF NOT EXISTS images (
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    prompt        TEXT NOT NULL,
    seed          INTEGER NOT NULL,
    model_id      TEXT NOT NULL,
    path          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    PRIMARY KEY (session_id, prompt, seed, model_id)
);
"""

_OPEN_ROW = (
    "SELECT * FROM questions q WHERE session_id = ? AND idx = ? AND NOT EXISTS ("
    " SELECT 1 FROM answers a WHERE a.question_id = q.id AND a.undone_at IS NULL)"
    " ORDER BY shown_at DESC LIMIT 1"
)

# an answer joined with its question (AnswerRow)
_ANSWER_JOINED = (
    "SELECT a.*, q.options, q.display_order, q.seeds, q.episode, q.step, q.slot, q.shown_at"
    " FROM answers a JOIN questions q ON q.id = a.question_id"
)

_JSON_FIELDS = ("config", "certificate", "extensions", "options", "display_order", "seeds")


def _row(cur: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    out = {}
    for (name, *_), value in zip(cur.description, row, strict=True):
        if name in _JSON_FIELDS and value is not None:
            value = json.loads(value)
        out[name] = value
    return out


class _ThreadConnection:
    """One thread's connection, closed when the thread ends and this holder goes with its
    thread-local storage. A ``sqlite3`` connection sits in a reference cycle (its statement
    cache), so without this a finished thread's connection — a file handle and its page cache —
    would stay open until a full garbage collection; the app starts a thread per session design
    or restore."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __del__(self):
        try:
            self.conn.close()
        except Exception:  # (at interpreter exit, or a connection already closed)
            pass


class SQLiteStore:
    """The SQLite backend. Thread-safe: each thread uses its own connection."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path).expanduser()
        self._local = threading.local()
        try:
            found = self.path.is_file()
            if not create and not found:
                raise StoreError(f"database not found: {self.path}")
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a name too long, a parent that is a file, no permission, ...
            raise StoreError(f"cannot open database {self.path}: {exc.strerror or exc}") from None
        try:
            with self._conn() as c:
                c.execute("PRAGMA journal_mode=WAL")
                c.executescript(_SCHEMA)
                cols = {r["name"] for r in c.execute("PRAGMA table_info(sessions)").fetchall()}
                if "share" not in cols:  # a store written before sessions could share their taste
                    c.execute("ALTER TABLE sessions ADD COLUMN share INTEGER NOT NULL DEFAULT 0")
        except sqlite3.DatabaseError as exc:
            self._drop_conn()
            raise StoreError(f"cannot open database {self.path}: {exc}") from None

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> SQLiteStore:
        """From a path or ``sqlite:///rel.db`` / ``sqlite:////abs.db`` (SQLAlchemy style)."""
        text = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url
        if "://" in text:
            raise StoreError(f"unsupported store URL {url!r} (use a file path or sqlite:///PATH)")
        return cls(text, create=create)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def media_dir(self) -> Path:
        """``<db stem>-images/`` beside the database file."""
        return self.path.with_name(self.path.stem + "-images")

    @contextmanager
    def _conn(self):
        """This thread's connection (opened on first use; kept open, so closing it never forces
        a checkpoint of the WAL on the request path)."""
        held = getattr(self._local, "held", None)
        conn = None if held is None else held.conn
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._local.held, self._local.sync = _ThreadConnection(conn), "FULL"
            conn.row_factory = _row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
        yield conn

    def _drop_conn(self) -> None:
        self._local.held = None  # (closes it)

    @contextmanager
    def _tx(self, *, durable: bool = True):
        """One write transaction, committed on exit (rolled back on error). ``durable``: the
        commit is on disk before this returns (``synchronous=FULL``; else ``NORMAL``, which
        survives a crash of the process but perhaps not of the machine)."""
        with self._conn() as conn:
            sync = "FULL" if durable else "NORMAL"
            if self._local.sync != sync:
                conn.execute(f"PRAGMA synchronous={sync}")
                self._local.sync = sync
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    self._drop_conn()  # a connection in an unknown state is not reused
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                self._drop_conn()
                raise

    # -- sessions ---------------------------------------------------------------------------
    def create_session(self, *, style: str, k: int, episodes: int, share: bool = False) -> str:
        sid = new_token()
        now = time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO sessions (id, created_at, updated_at, style, k, episodes, image_seed,"
                " status, share) VALUES (?, ?, ?, ?, ?, ?, ?, 'designing', ?)",
                (sid, now, now, style, k, episodes, secrets.randbelow(2**31), int(bool(share))),
            )
        return sid

    def get_session(self, sid: str) -> dict[str, Any] | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM sessions WHERE id = ?", (sid,)).fetchone()
        if row is not None:
            row["share"] = bool(row["share"])
        return row

    def set_share(self, sid: str, share: bool) -> None:
        with self._tx() as c:
            cur = c.execute(
                "UPDATE sessions SET share = ?, updated_at = ? WHERE id = ?",
                (int(bool(share)), time.time(), sid),
            )
            if cur.rowcount == 0:
                raise StoreError(f"unknown session {sid}")

    def shared_session_ids(self) -> list[str]:
        with self._conn() as c:
            rows = c.execute("SELECT id FROM sessions WHERE share = 1 ORDER BY created_at").fetchall()
        return [r["id"] for r in rows]

    def session_ids(self) -> list[str]:
        with self._conn() as c:
            return [r["id"] for r in c.execute("SELECT id FROM sessions ORDER BY created_at")]

    def set_design(
        self, sid: str, *, config: dict, certificate: dict | None, n_questions: int, seconds: float
    ) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE sessions SET config = ?, certificate = ?, n_questions = ?, status = 'ready',"
                " error = NULL, design_seconds = ?, updated_at = ? WHERE id = ?",
                (
                    json.dumps(config),
                    json.dumps(certificate, default=float),
                    n_questions,
                    seconds,
                    time.time(),
                    sid,
                ),
            )

    def set_status(self, sid: str, status: str, error: str | None = None) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE sessions SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status, error, time.time(), sid),
            )

    def add_extension(self, sid: str, *, episodes: int, after: int, n_questions: int) -> None:
        """Record ``extend(episodes)`` called after ``after`` live answers (replayed in order)."""
        with self._tx() as c:
            row = c.execute("SELECT extensions FROM sessions WHERE id = ?", (sid,)).fetchone()
            if row is None:
                raise StoreError(f"unknown session {sid}")
            ext = row["extensions"] + [{"episodes": episodes, "after": after}]
            c.execute(
                "UPDATE sessions SET extensions = ?, n_questions = ?, status = 'ready',"
                " updated_at = ? WHERE id = ?",
                (json.dumps(ext), n_questions, time.time(), sid),
            )

    # -- questions --------------------------------------------------------------------------
    def open_question(
        self,
        sid: str,
        *,
        idx: int,
        episode: int | None,
        step: int | None,
        slot: str | None,
        options: list[str],
        display_order: list[int],
        seeds: list[int],
    ) -> dict[str, Any]:
        """The shown-question row for question ``idx``: reused while it has no live answer."""
        now = time.time()
        with self._conn() as c:  # the common case, a question shown again, needs no write
            row = c.execute(_OPEN_ROW, (sid, idx)).fetchone()
        if row is not None and row["options"] == list(options):
            return row
        with self._tx(durable=False) as c:  # (a lost row is recreated when shown again)
            row = c.execute(_OPEN_ROW, (sid, idx)).fetchone()
            if row is not None and row["options"] == list(options):
                return row
            qid = new_token()
            c.execute(
                "INSERT INTO questions (id, session_id, idx, episode, step, slot, options,"
                " display_order, seeds, shown_at, last_shown_at) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    qid,
                    sid,
                    idx,
                    episode,
                    step,
                    slot,
                    json.dumps(list(options)),
                    json.dumps(list(display_order)),
                    json.dumps(list(seeds)),
                    now,
                    now,
                ),
            )
            return c.execute("SELECT * FROM questions WHERE id = ?", (qid,)).fetchone()

    def touch_question(self, qid: str) -> None:
        with self._tx(durable=False) as c:
            c.execute(
                "UPDATE questions SET last_shown_at = ?, times_shown = times_shown + 1 WHERE id = ?",
                (time.time(), qid),
            )

    def get_question(self, sid: str, qid: str) -> dict[str, Any] | None:
        """The question ``qid`` *of session* ``sid`` (``None`` for another session's question)."""
        with self._conn() as c:
            return c.execute("SELECT * FROM questions WHERE id = ? AND session_id = ?", (qid, sid)).fetchone()

    def questions(self, sid: str) -> list[dict[str, Any]]:
        with self._conn() as c:
            return c.execute(
                "SELECT * FROM questions WHERE session_id = ? ORDER BY shown_at, idx", (sid,)
            ).fetchall()

    # -- answers ----------------------------------------------------------------------------
    def record_answer(
        self,
        sid: str,
        qid: str,
        *,
        action: str,
        choice: int | None = None,
        position: int | None = None,
    ) -> int:
        """Insert one answer and commit; ``AlreadyAnswered`` when ``qid`` has a live answer."""
        check_action(action)
        now = time.time()
        with self._tx() as c:
            q = c.execute(
                "SELECT idx, last_shown_at FROM questions WHERE id = ? AND session_id = ?",
                (qid, sid),
            ).fetchone()
            if q is None:
                raise StoreError(f"unknown question {qid} in session {sid}")
            try:
                cur = c.execute(
                    "INSERT INTO answers (session_id, question_id, idx, action, choice, position,"
                    " answered_at, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (sid, qid, q["idx"], action, choice, position, now, now - q["last_shown_at"]),
                )
            except sqlite3.IntegrityError:
                raise AlreadyAnswered("this question has already been answered") from None
            c.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, sid))
            return int(cur.lastrowid)

    def undo_last(self, sid: str) -> dict[str, Any] | None:
        """Flag the last live answer as undone (kept for the record) and return it, joined with its
        question; ``None`` when there is none."""
        now = time.time()
        with self._tx() as c:
            row = c.execute(
                f"{_ANSWER_JOINED} WHERE a.session_id = ? AND a.undone_at IS NULL ORDER BY a.id DESC LIMIT 1",
                (sid,),
            ).fetchone()
            if row is None:
                return None
            c.execute("UPDATE answers SET undone_at = ? WHERE id = ?", (now, row["id"]))
            c.execute(
                "UPDATE questions SET last_shown_at = ?, times_shown = times_shown + 1 WHERE id = ?",
                (now, row["question_id"]),
            )
            row["undone_at"] = now
            return row

    def live_answers(self, sid: str) -> list[dict[str, Any]]:
        """Answers not undone, oldest first, joined with their question (for replay and export)."""
        return [a for a in self.answers(sid) if a["undone_at"] is None]

    def answers(self, sid: str) -> list[dict[str, Any]]:
        """Every answer (undone ones included), oldest first, joined with its question."""
        with self._conn() as c:
            return c.execute(f"{_ANSWER_JOINED} WHERE a.session_id = ? ORDER BY a.id", (sid,)).fetchall()

    def live_answer_ids(self, sid: str) -> list[int]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT id FROM answers WHERE session_id = ? AND undone_at IS NULL ORDER BY id", (sid,)
            ).fetchall()
        return [r["id"] for r in rows]

    # -- images -----------------------------------------------------------------------------
    def record_image(self, sid: str, *, prompt: str, seed: int, model_id: str, path: str) -> None:
        with self._tx(durable=False) as c:
            c.execute(
                "INSERT OR IGNORE INTO images (session_id, prompt, seed, model_id, path,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (sid, prompt, seed, model_id, path, time.time()),
            )

    def images(self, sid: str) -> dict[tuple[str, int], str]:
        """``(prompt, seed) -> path`` of every image rendered for the session (latest model)."""
        with self._conn() as c:
            rows = c.execute(
                "SELECT prompt, seed, path FROM images WHERE session_id = ? ORDER BY created_at",
                (sid,),
            ).fetchall()
        return {(r["prompt"], r["seed"]): r["path"] for r in rows}


STORES.register("sqlite", SQLiteStore.from_url, help="one SQLite file (WAL): a path or sqlite:///PATH")
