"""Request bodies of the JSON API (strict: no extra keys, no type coercion) and their limits, and
the error body every failure answers with.

Integers accept JSON numbers with an integral value (``227.0`` is JSON Schema's integer 227), but
not ``1.5``, strings or booleans.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..personalizer import MAX_EPISODES

MAX_K = 10

__all__ = ["MAX_EPISODES", "MAX_K", "AnswerBody", "ExtendBody", "NewSession"]


def _integral(value: Any) -> Any:
    """227.0 → 227; anything else is left for strict validation (which rejects 1.5, "3", True)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        return {k: _integral(v) for k, v in data.items()} if isinstance(data, dict) else data


class NewSession(_Body):
    style: str = Field("", max_length=500)
    share: bool = False  # opt-in: the estimated taste may join the population prior
    k: int | None = Field(None, ge=2, le=MAX_K)
    episodes: int | None = Field(None, ge=1, le=MAX_EPISODES)


class ChooseBody(_Body):
    """Choose the option at ``position`` (0-based place on screen: key 1 → 0)."""

    question_id: str = Field(min_length=1, max_length=64)
    action: Literal["choose"] = "choose"
    position: int  # checked against the question's options: 422 "position must be in 0..K-1"


class PassBody(_Body):
    """Skip the question, or say you have no preference (no position)."""

    question_id: str = Field(min_length=1, max_length=64)
    action: Literal["skip", "no_preference"]


AnswerBody = ChooseBody | PassBody


class ExtendBody(_Body):
    episodes: int = Field(ge=1, le=MAX_EPISODES)


class ShareBody(_Body):
    """Whether the person lets their estimated taste join the population prior."""

    share: bool


class UndoBody(_Body):
    """An empty JSON object: ``{}``."""


class Error(BaseModel):
    """Every failure: ``{"error": one line}``."""

    error: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these status codes, each with the :class:`Error` body."""
    what = {
        400: "bad request (e.g. a Host that is not allowed)",
        404: "no such session, question, option or image",
        405: "method not allowed (see Allow)",
        409: "conflicts with the session's state (already answered, still designing, ...)",
        413: "request body too large",
        415: "the body is not application/json",
        422: "invalid request body or parameter",
        429: "too many requests or sessions; see Retry-After",
        431: "request headers too large",
    }
    return {c: {"model": Error, "description": what.get(c, "error")} for c in codes}
