"""Persistence of app sessions: the :class:`Store` contract (:mod:`.base`), backends by URL scheme
(:mod:`.registry`), the SQLite backend (:mod:`.sqlite`) and the PostgreSQL one (:mod:`.postgres`,
psycopg imported only when a ``postgresql://`` store is opened)."""

from . import postgres, sqlite  # noqa: F401  (register the backends)
from .base import (
    ACTIONS,
    AlreadyAnswered,
    AnswerRow,
    QuestionRow,
    SessionRow,
    Store,
    StoreError,
    check_action,
    new_token,
)
from .postgres import PostgresStore
from .registry import STORES, open_store
from .sqlite import SQLiteStore

__all__ = [
    "ACTIONS",
    "STORES",
    "AlreadyAnswered",
    "AnswerRow",
    "PostgresStore",
    "QuestionRow",
    "SQLiteStore",
    "SessionRow",
    "Store",
    "StoreError",
    "check_action",
    "new_token",
    "open_store",
]
