"""The PostgreSQL backend of :class:`~edpbrl.store.base.Store` (psycopg 3), for several server
processes or machines behind one database.

Opened from ``postgresql://user@host:port/dbname`` (or ``postgres://``; any libpq URL parameter
works, e.g. ``?host=/run/postgresql`` for a unix socket or ``?sslmode=require``; a password is
best given by ``PGPASSWORD`` or ``~/.pgpass`` and is never shown in :attr:`PostgresStore.url`).
The tables are those of the SQLite backend, created on first open in the connection's
``search_path`` (pick a schema with ``?options=-csearch_path%3Dedpbrl``).

Each write is one transaction committed before the method returns (PostgreSQL's default
``synchronous_commit=on``: on disk when acknowledged). Writes that read before they write lock the
session's row first (``SELECT ... FOR NO KEY UPDATE``), so they run one at a time per session, as
SQLite's ``BEGIN IMMEDIATE`` makes them; a partial unique index keeps one live answer per
question across every process. psycopg is imported lazily: without the ``postgres`` extra the
package works and a ``postgresql://`` URL is a one-line error.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import AlreadyAnswered, StoreError, check_action, new_token
from .registry import STORES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id            TEXT PRIMARY KEY,
    created_at    DOUBLE PRECISION NOT NULL,
    updated_at    DOUBLE PRECISION NOT NULL,
    style         TEXT NOT NULL DEFAULT '',
    k             INTEGER NOT NULL,
    episodes      INTEGER NOT NULL,
    image_seed    BIGINT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    config        JSON,
    certificate   JSON,
    n_questions   INTEGER,
    extensions    JSON NOT NULL DEFAULT '[]',
    design_seconds DOUBLE PRECISION,
    share         BOOLEAN NOT NULL DEFAULT FALSE
);
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS share BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE IF NOT EXISTS questions (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    idx           INTEGER NOT NULL,
    episode       INTEGER,
    step          INTEGER,
    slot          TEXT,
    options       JSON NOT NULL,
    display_order JSON NOT NULL,
    seeds         JSON NOT NULL,
    shown_at      DOUBLE PRECISION NOT NULL,
    last_shown_at DOUBLE PRECISION NOT NULL,
    times_shown   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS questions_by_session ON questions(session_id, idx);
CREATE TABLE IF NOT EXISTS answers (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    question_id   TEXT NOT NULL REFERENCES questions(id),
    idx           INTEGER NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('choose', 'skip', 'no_preference')),
    choice        INTEGER,
    position      INTEGER,
    answered_at   DOUBLE PRECISION NOT NULL,
    seconds       DOUBLE PRECISION,
    undone_at     DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS answers_by_session ON answers(session_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_answer ON answers(question_id) WHERE undone_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS one_live_answer_per_index ON answers(session_id, idx)
    WHERE undone_at IS NULL;
CREATE TABLE IF NOT EXISTS images (
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    prompt        TEXT NOT NULL,
    seed          BIGINT NOT NULL,
    model_id      TEXT NOT NULL,
    path          TEXT NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (session_id, prompt, seed, model_id)
);
"""
_SCHEMA_LOCK = 0x6564_7062  # advisory lock id ("edpb"): one process creates the tables at a time

_SESSION_COLS = (
    "id, created_at, updated_at, style, k, episodes, image_seed, status, error, config,"
    " certificate, n_questions, extensions, design_seconds, share"
)
_QUESTION_COLS = (
    "id, session_id, idx, episode, step, slot, options, display_order, seeds, shown_at,"
    " last_shown_at, times_shown"
)
_ANSWER_JOINED = (
    "SELECT a.id, a.session_id, a.question_id, a.idx, a.action, a.choice, a.position,"
    " a.answered_at, a.seconds, a.undone_at, q.options, q.display_order, q.seeds, q.episode,"
    " q.step, q.slot, q.shown_at FROM answers a JOIN questions q ON q.id = a.question_id"
)


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StoreError("PostgreSQL stores need psycopg 3: pip install 'edpbrl[postgres]'") from None
    return psycopg


def public_url(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        netloc = userinfo.split(":", 1)[0] + "@" + hosts
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Pool:
    """A small thread-safe pool of autocommit connections: a connection serves one call at a time;
    up to ``max_idle`` are kept for reuse; one idle longer than ``ping_after`` seconds is checked
    with ``SELECT 1`` before use (and replaced when the server dropped it)."""

    def __init__(self, conninfo: str, *, max_idle: int = 8, ping_after: float = 10.0):
        self.conninfo = conninfo
        self.max_idle = max_idle
        self.ping_after = ping_after
        self._idle: list[tuple[Any, float]] = []
        self._lock = threading.Lock()
        self._pg = _psycopg()

    def _connect(self):
        from psycopg.rows import dict_row

        return self._pg.connect(self.conninfo, autocommit=True, row_factory=dict_row, connect_timeout=10)

    def _take(self):
        while True:
            with self._lock:
                conn, since = self._idle.pop() if self._idle else (None, 0.0)
            if conn is None:
                return self._connect()
            if time.monotonic() - since < self.ping_after:
                return conn
            try:
                conn.execute("SELECT 1")
                return conn
            except self._pg.Error:
                conn.close()

    @contextmanager
    def connection(self):
        conn = self._take()
        try:
            yield conn
        finally:
            idle = self._pg.pq.TransactionStatus.IDLE
            if not conn.closed and not conn.broken and conn.info.transaction_status == idle:
                with self._lock:
                    if len(self._idle) < self.max_idle:
                        self._idle.append((conn, time.monotonic()))
                        conn = None
            if conn is not None:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


class PostgresStore:
    """The PostgreSQL backend. Thread-safe: each call takes a connection of its own from a small
    pool; call :meth:`close` to drop the idle connections."""

    def __init__(self, url: str, *, create: bool = True):
        self._url = public_url(url)
        self._pool = _Pool(url)
        pg = self._pool._pg
        try:
            with self._pool.connection() as c:
                if create:
                    with c.transaction():
                        c.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                        c.execute(_SCHEMA)
                else:
                    row = c.execute("SELECT to_regclass('sessions') AS t").fetchone()
                    if row["t"] is None:
                        raise StoreError(f"no edpbrl store at {self._url} (no sessions table)")
        except pg.Error as exc:
            self._pool.close()
            raise StoreError(f"cannot open PostgreSQL store {self._url}: {_one_line(exc)}") from None

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> PostgresStore:
        return cls(url, create=create)

    @property
    def url(self) -> str:
        return self._url

    def media_dir(self) -> Path | None:
        """None: the database has no local directory (the app uses its image directory)."""
        return None

    def close(self) -> None:
        """Close the idle connections (the store opens new ones if it is used again)."""
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._url!r})"

    @contextmanager
    def _conn(self):
        with self._pool.connection() as c:
            yield c

    @contextmanager
    def _tx(self):
        """One write transaction, committed on exit (rolled back on error)."""
        with self._pool.connection() as c, c.transaction():
            yield c

    @staticmethod
    def _lock(c, sid: str) -> bool:
        """Lock session ``sid``'s row until the transaction ends (writers of one session run one
        at a time); False when there is no such session."""
        row = c.execute("SELECT id FROM sessions WHERE id = %s FOR NO KEY UPDATE", (sid,)).fetchone()
        return row is not None

    # -- sessions ---------------------------------------------------------------------------
    def create_session(self, *, style: str, k: int, episodes: int, share: bool = False) -> str:
        sid = new_token()
        now = time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO sessions (id, created_at, updated_at, style, k, episodes, image_seed,"
                " status, share) VALUES (%s, %s, %s, %s, %s, %s, %s, 'designing', %s)",
                (sid, now, now, style, k, episodes, secrets.randbelow(2**31), bool(share)),
            )
        return sid

    def set_share(self, sid: str, share: bool) -> None:
        with self._tx() as c:
            cur = c.execute(
                "UPDATE sessions SET share = %s, updated_at = %s WHERE id = %s",
                (bool(share), time.time(), sid),
            )
            if cur.rowcount == 0:
                raise StoreError(f"unknown session {sid}")

    def shared_session_ids(self) -> list[str]:
        with self._conn() as c:
            rows = c.execute("SELECT id FROM sessions WHERE share ORDER BY created_at").fetchall()
        return [r["id"] for r in rows]

    def get_session(self, sid: str) -> dict[str, Any] | None:
        with self._conn() as c:
            return c.execute(f"SELECT {_SESSION_COLS} FROM sessions WHERE id = %s", (sid,)).fetchone()

    def session_ids(self) -> list[str]:
        with self._conn() as c:
            return [r["id"] for r in c.execute("SELECT id FROM sessions ORDER BY created_at")]

    def set_design(
        self, sid: str, *, config: dict, certificate: dict | None, n_questions: int, seconds: float
    ) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE sessions SET config = %s::json, certificate = %s::json, n_questions = %s,"
                " status = 'ready', error = NULL, design_seconds = %s, updated_at = %s WHERE id = %s",
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
                "UPDATE sessions SET status = %s, error = %s, updated_at = %s WHERE id = %s",
                (status, error, time.time(), sid),
            )

    def add_extension(self, sid: str, *, episodes: int, after: int, n_questions: int) -> None:
        with self._tx() as c:
            if not self._lock(c, sid):
                raise StoreError(f"unknown session {sid}")
            row = c.execute("SELECT extensions FROM sessions WHERE id = %s", (sid,)).fetchone()
            ext = row["extensions"] + [{"episodes": episodes, "after": after}]
            c.execute(
                "UPDATE sessions SET extensions = %s::json, n_questions = %s, status = 'ready',"
                " updated_at = %s WHERE id = %s",
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
        now = time.time()
        with self._tx() as c:
            if not self._lock(c, sid):
                raise StoreError(f"unknown session {sid}")
            row = c.execute(
                f"SELECT {_QUESTION_COLS} FROM questions q WHERE session_id = %s AND idx = %s"
                " AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.question_id = q.id"
                " AND a.undone_at IS NULL) ORDER BY shown_at DESC LIMIT 1",
                (sid, idx),
            ).fetchone()
            if row is not None and row["options"] == list(options):
                return row
            return c.execute(
                "INSERT INTO questions (id, session_id, idx, episode, step, slot, options,"
                " display_order, seeds, shown_at, last_shown_at) VALUES"
                f" (%s, %s, %s, %s, %s, %s, %s::json, %s::json, %s::json, %s, %s) RETURNING {_QUESTION_COLS}",
                (
                    new_token(),
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
            ).fetchone()

    def touch_question(self, qid: str) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE questions SET last_shown_at = %s, times_shown = times_shown + 1 WHERE id = %s",
                (time.time(), qid),
            )

    def get_question(self, sid: str, qid: str) -> dict[str, Any] | None:
        with self._conn() as c:
            return c.execute(
                f"SELECT {_QUESTION_COLS} FROM questions WHERE id = %s AND session_id = %s", (qid, sid)
            ).fetchone()

    def questions(self, sid: str) -> list[dict[str, Any]]:
        with self._conn() as c:
            return c.execute(
                f"SELECT {_QUESTION_COLS} FROM questions WHERE session_id = %s ORDER BY shown_at, idx",
                (sid,),
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
        check_action(action)
        pg = self._pool._pg
        try:
            with self._tx() as c:
                now = time.time()
                q = None
                if self._lock(c, sid):
                    q = c.execute(
                        "SELECT idx, last_shown_at FROM questions WHERE id = %s AND session_id = %s",
                        (qid, sid),
                    ).fetchone()
                if q is None:
                    raise StoreError(f"unknown question {qid} in session {sid}")
                row = c.execute(
                    "INSERT INTO answers (session_id, question_id, idx, action, choice, position,"
                    " answered_at, seconds) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (sid, qid, q["idx"], action, choice, position, now, now - q["last_shown_at"]),
                ).fetchone()
                c.execute("UPDATE sessions SET updated_at = %s WHERE id = %s", (now, sid))
                return int(row["id"])
        except pg.errors.UniqueViolation:
            raise AlreadyAnswered("this question has already been answered") from None

    def undo_last(self, sid: str) -> dict[str, Any] | None:
        now = time.time()
        with self._tx() as c:
            if not self._lock(c, sid):
                return None
            row = c.execute(
                f"{_ANSWER_JOINED} WHERE a.session_id = %s AND a.undone_at IS NULL"
                " ORDER BY a.id DESC LIMIT 1",
                (sid,),
            ).fetchone()
            if row is None:
                return None
            c.execute("UPDATE answers SET undone_at = %s WHERE id = %s", (now, row["id"]))
            c.execute(
                "UPDATE questions SET last_shown_at = %s, times_shown = times_shown + 1 WHERE id = %s",
                (now, row["question_id"]),
            )
            row["undone_at"] = now
            return row

    def live_answers(self, sid: str) -> list[dict[str, Any]]:
        with self._conn() as c:
            return c.execute(
                f"{_ANSWER_JOINED} WHERE a.session_id = %s AND a.undone_at IS NULL ORDER BY a.id",
                (sid,),
            ).fetchall()

    def answers(self, sid: str) -> list[dict[str, Any]]:
        with self._conn() as c:
            return c.execute(f"{_ANSWER_JOINED} WHERE a.session_id = %s ORDER BY a.id", (sid,)).fetchall()

    def live_answer_ids(self, sid: str) -> list[int]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT id FROM answers WHERE session_id = %s AND undone_at IS NULL ORDER BY id", (sid,)
            ).fetchall()
        return [r["id"] for r in rows]

    # -- images -----------------------------------------------------------------------------
    def record_image(self, sid: str, *, prompt: str, seed: int, model_id: str, path: str) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO images (session_id, prompt, seed, model_id, path, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (sid, prompt, seed, model_id, path, time.time()),
            )

    def images(self, sid: str) -> dict[tuple[str, int], str]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT prompt, seed, path FROM images WHERE session_id = %s ORDER BY created_at",
                (sid,),
            ).fetchall()
        return {(r["prompt"], r["seed"]): r["path"] for r in rows}


_HELP = "PostgreSQL via psycopg 3 (the 'postgres' extra): postgresql://user@host:port/dbname"
STORES.register("postgresql", PostgresStore.from_url, help=_HELP)
STORES.register("postgres", PostgresStore.from_url, help="the same as postgresql://")
