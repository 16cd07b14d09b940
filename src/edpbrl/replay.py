"""Rebuild a :class:`~edpbrl.personalizer.Personalizer` from a stored session.

The store is the source of truth; a personalizer is ``Personalizer.from_config(config)`` followed
by a replay of the session's live answers (and of any ``extend`` calls at the point they were
made). Questions are deterministic given the config and the answers, so the replay checks that
every stored answer meets the very question it was given to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import SessionError
from .personalizer import Personalizer
from .store.base import Store


class ReplayError(SessionError):
    """Stored answers no longer match the questions the design produces."""


def replay(p: Personalizer, answers: list[dict], extensions: list[dict] | None = None) -> None:
    """Re-apply stored live answers to a fresh personalizer, checking each question matches."""
    pending = sorted(extensions or [], key=lambda e: e["after"])
    for i, a in enumerate(answers):
        while pending and pending[0]["after"] <= i:
            p.extend(pending.pop(0)["episodes"])
        q = p.ask()
        if q is None or list(q.options) != list(a["options"]) or q.index != a["idx"]:
            raise ReplayError(
                f"stored answer {i + 1} does not match the question the design asks; "
                "the session cannot be resumed with this version of the vocabulary or encoder"
            )
        if a["action"] == "skip":
            p.skip(q)
        elif a["action"] == "no_preference":
            p.tell(q, None)
        else:
            p.tell(q, int(a["choice"]))
    for e in pending:
        p.extend(e["episodes"])


def restore(
    store: Store,
    sid: str,
    *,
    embedder: Any = None,
    progress: Callable | None = None,
    row: dict | None = None,
    answers: list[dict] | None = None,
) -> Personalizer:
    """A personalizer for a stored session, in the state its live answers put it in.

    ``embedder``: an encoder object to use instead of the one named in the stored config (needed
    when the session was designed with an object rather than a spec string). ``answers`` and
    ``row``: the session's live answers and row when the caller has read them (so that it knows
    exactly what the personalizer holds; read the answers first: an extension stored in between is
    then applied after them, where it belongs); default: read from the store.
    """
    if answers is None:
        answers = store.live_answers(sid)
    if row is None:
        row = store.get_session(sid)
    if row is None or row["config"] is None:
        raise SessionError("this session has no design yet")
    cfg = dict(row["config"])
    if embedder is not None and not isinstance(embedder, str):
        cfg["embedder"] = embedder
    # from_config recomputes the design (seconds to minutes): report its progress too
    p = Personalizer.from_config(cfg, progress=progress) if progress else Personalizer.from_config(cfg)
    if progress is not None:
        progress(0, 1, "replaying answers")
    replay(p, answers, row["extensions"])
    return p
