"""Persistence of app sessions: the :class:`Store` contract (:mod:`.base`), backends by URL scheme
(:mod:`.registry`) and the SQLite backend (:mod:`.sqlite`)."""

from . import sqlite  # noqa: F401  (registers the sqlite backend)
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
from .registry import STORES, open_store
from .sqlite import SQLiteStore

__all__ = [
    "ACTIONS",
    "STORES",
    "AlreadyAnswered",
    "AnswerRow",
    "QuestionRow",
    "SQLiteStore",
    "SessionRow",
    "Store",
    "StoreError",
    "check_action",
    "new_token",
    "open_store",
]
