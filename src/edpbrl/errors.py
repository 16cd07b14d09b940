"""The project's exception types: every user-facing error is one line naming the problem."""


class EdpbrlError(ValueError):
    """Base class for errors caused by bad input (files, shapes, parameters, ids)."""


class VocabularyError(EdpbrlError):
    """A vocabulary is empty, has duplicates, or cannot be read."""


class EmbedderError(EdpbrlError):
    """An encoder cannot be loaded or was given bad input."""


class DesignError(EdpbrlError):
    """A design problem is ill-posed (bad features, λ ≤ 0, K too large, ...)."""


class SessionError(EdpbrlError):
    """An ask/tell session was used wrongly (unknown question, bad choice, ...)."""


def short_repr(value, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (for one-line errors about arbitrary input)."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 1] + "…"
