"""The storage contract of the app: everything a person answered, durably.

A :class:`Store` keeps sessions, every question shown and every answer given (undone answers are
kept and flagged), and the images rendered for a session. **Every write is committed before the
method returns**: the app acknowledges an answer only after :meth:`Store.record_answer` returned,
so an acknowledged answer is never lost. Rows are plain dicts (see the ``*Row`` types below);
JSON columns come back decoded.

Backends register an opener under a URL scheme in :data:`edpbrl.store.registry.STORES`; nothing
outside the backend's module knows how it stores things. A new backend is one module that
implements this protocol, registers its scheme, and passes ``tests/store/test_contract.py``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Protocol, TypedDict, runtime_checkable

from ..errors import EdpbrlError

ACTIONS = ("choose", "skip", "no_preference")
STATUSES = ("designing", "ready", "error")


class StoreError(EdpbrlError):
    """The store cannot be opened or was asked something impossible."""


class AlreadyAnswered(StoreError):
    """The question already has an answer that is not undone."""


def new_token() -> str:
    """An unguessable URL-safe session / question id (192 random bits; never starting with '-',
    which a command line would read as an option: ``edpbrl export ID``)."""
    while True:
        token = secrets.token_urlsafe(24)
        if not token.startswith("-"):
            return token


class SessionRow(TypedDict):
    id: str
    created_at: float
    updated_at: float
    style: str
    k: int
    episodes: int
    image_seed: int
    status: str  # one of STATUSES
    error: str | None
    config: dict | None  # the Personalizer's config (None while designing)
    certificate: dict | None
    n_questions: int | None
    extensions: list[dict]  # [{"episodes": n, "after": live answers at the time}], in order
    design_seconds: float | None
    share: bool  # the person lets their estimated taste join the population prior (opt-in)


class QuestionRow(TypedDict):
    id: str
    session_id: str
    idx: int  # position in the session's question sequence
    episode: int | None
    step: int | None
    slot: str | None
    options: list[str]  # in the core's order
    display_order: list[int]  # display position -> index into options
    seeds: list[int]  # image seed per option
    shown_at: float
    last_shown_at: float
    times_shown: int


class AnswerRow(TypedDict):
    """An answer joined with its question's options, display_order, seeds, episode, step, slot
    and shown_at."""

    id: int
    session_id: str
    question_id: str
    idx: int
    action: str  # one of ACTIONS
    choice: int | None  # index into options (None unless action == "choose")
    position: int | None  # display position chosen
    answered_at: float
    seconds: float | None  # since the question was last shown
    undone_at: float | None
    options: list[str]
    display_order: list[int]
    seeds: list[int]


@runtime_checkable
class Store(Protocol):
    """A durable store of sessions, questions, answers and images (see the module docstring)."""

    @property
    def url(self) -> str:
        """A URL that :func:`~edpbrl.store.open_store` opens again (credentials omitted)."""
        ...

    def media_dir(self) -> Path | None:
        """A local directory for files that belong with this store (rendered images), or None
        when the store has no local home (the app then uses ``--images`` or its default)."""
        ...

    # -- sessions
    def create_session(self, *, style: str, k: int, episodes: int, share: bool = False) -> str:
        """A new session in status ``designing`` with a fresh :func:`new_token` id and a random
        image seed; returns its id."""
        ...

    def get_session(self, sid: str) -> SessionRow | None: ...

    def session_ids(self) -> list[str]:
        """Every session id, oldest first."""
        ...

    def set_share(self, sid: str, share: bool) -> None:
        """Record whether the person lets their estimated taste join the population prior
        (``edpbrl prior fit --db``); StoreError for an unknown session."""
        ...

    def shared_session_ids(self) -> list[str]:
        """The ids of the sessions whose person chose to share their taste, oldest first."""
        ...

    def set_design(
        self, sid: str, *, config: dict, certificate: dict | None, n_questions: int, seconds: float
    ) -> None:
        """Store the design's config and certificate; status becomes ``ready``."""
        ...

    def set_status(self, sid: str, status: str, error: str | None = None) -> None: ...

    def add_extension(self, sid: str, *, episodes: int, after: int, n_questions: int) -> None:
        """Record ``extend(episodes)`` called after ``after`` live answers (replayed in order);
        StoreError for an unknown session."""
        ...

    # -- questions
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
    ) -> QuestionRow:
        """The shown-question row for question ``idx``: the latest one without a live answer is
        reused when its options are the same; otherwise a new row is created."""
        ...

    def touch_question(self, qid: str) -> None:
        """The question was shown again: bump ``times_shown`` and ``last_shown_at``."""
        ...

    def get_question(self, sid: str, qid: str) -> QuestionRow | None:
        """The question ``qid`` *of session* ``sid`` (None for another session's question)."""
        ...

    def questions(self, sid: str) -> list[QuestionRow]:
        """Every question row of the session, in the order shown."""
        ...

    # -- answers
    def record_answer(
        self, sid: str, qid: str, *, action: str, choice: int | None = None, position: int | None = None
    ) -> int:
        """Insert one answer and commit; returns its id. :class:`AlreadyAnswered` when ``qid``
        has a live answer, or another shown row of the same question index does (exactly one of
        concurrent submits wins, across processes too), StoreError for a question not of this
        session."""
        ...

    def undo_last(self, sid: str) -> AnswerRow | None:
        """Flag the last live answer as undone (kept for the record); None when there is none."""
        ...

    def live_answers(self, sid: str) -> list[AnswerRow]:
        """Answers not undone, oldest first, joined with their question."""
        ...

    def answers(self, sid: str) -> list[AnswerRow]:
        """Every answer (undone ones included), oldest first, joined with their question."""
        ...

    def live_answer_ids(self, sid: str) -> list[int]:
        """The ids of :meth:`live_answers`, oldest first, without reading the rows (a server
        checks on every request whether another process changed the session)."""
        ...

    # -- images
    def record_image(self, sid: str, *, prompt: str, seed: int, model_id: str, path: str) -> None:
        """Remember that ``(prompt, seed)`` was rendered to ``path`` (idempotent)."""
        ...

    def images(self, sid: str) -> dict[tuple[str, int], str]:
        """``(prompt, seed) -> path`` of every image rendered for the session."""
        ...


def check_action(action: Any) -> str:
    """One-line StoreError unless ``action`` is one of :data:`ACTIONS`."""
    if action not in ACTIONS:
        raise StoreError(f"unknown answer action {action!r}: expected one of {', '.join(ACTIONS)}")
    return action
