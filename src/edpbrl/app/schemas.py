"""Request bodies of the JSON API (strict: no extra keys, no type coercion) and their limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..personalizer import MAX_EPISODES

MAX_K = 10

__all__ = ["MAX_EPISODES", "MAX_K", "AnswerBody", "ExtendBody", "NewSession"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewSession(_Body):
    style: str = Field("", max_length=500)
    k: int | None = Field(None, ge=2, le=MAX_K)
    episodes: int | None = Field(None, ge=1, le=MAX_EPISODES)


class AnswerBody(_Body):
    question_id: str = Field(min_length=1, max_length=64)
    action: Literal["choose", "skip", "no_preference"] = "choose"
    position: int | None = None  # 0-based position on screen (key 1 → 0); needed for "choose"


class ExtendBody(_Body):
    episodes: int = Field(ge=1, le=MAX_EPISODES)
