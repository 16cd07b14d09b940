"""Simulated users and the paper's evaluation metrics (cosine and preference error).

A linear user has a taste vector θ* (d,) and a rationality β (inverse temperature): shown options
with features X (K, d) it picks k with probability softmax_k(β θ*ᵀ x_k) — sampled, not argmax.
θ* is the mean of the L2-normalised embeddings of a style's sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .data import resolve_style
from .errors import EdpbrlError
from .vocab import Vocabulary, join_prompt, slot_lines


def packaged_styles() -> list[str]:
    """Names of the style files shipped with the package."""
    root = Path(str(resources.files("edpbrl") / "data" / "styles"))
    return sorted(p.stem for p in root.glob("*.txt"))


def read_style(style: str | Path) -> list[str]:
    """Sentences of a style: a path to a text file (one sentence per line; blank lines and ``#``
    comment lines are skipped, as in vocabulary slot files), a packaged name, or ``paper:NAME`` for
    the paper's styles (after ``edpbrl data paper``)."""
    path = Path(resolve_style(style))
    if not path.exists() and str(style) in packaged_styles():
        path = Path(str(resources.files("edpbrl") / "data" / "styles")) / f"{style}.txt"
    if not path.is_file():
        raise EdpbrlError(f"style file not found: {style} (packaged styles: {', '.join(packaged_styles())})")
    try:
        lines = slot_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EdpbrlError(f"cannot read style file {path}: {exc}") from None
    if not lines:
        raise EdpbrlError(f"style file {path} has no sentences")
    return lines


def style_theta(sentences: Sequence[str], embedder) -> np.ndarray:
    """θ* = mean of the normalised sentence embeddings; (d,)."""
    return theta_of_embeddings(embedder.encode(list(sentences)))


def theta_of_embeddings(E) -> np.ndarray:
    """θ* of a style from its sentences' embeddings E (n, d): the mean of the normalised rows; (d,)."""
    E = np.asarray(E, dtype=np.float64)
    E = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return E.mean(0)


@dataclass
class LinearUser:
    """Ground-truth user: utility θ*ᵀx, choices sampled from softmax(β θ*ᵀ x)."""

    theta: np.ndarray
    rationality: float = 10.0
    seed: int = 0

    def __post_init__(self):
        self.theta = np.asarray(self.theta, dtype=np.float64)
        if self.theta.ndim != 1 or not np.isfinite(self.theta).all():
            raise EdpbrlError("a user's θ must be a finite vector (d,)")
        if not self.rationality >= 0:
            raise EdpbrlError(f"rationality must be ≥ 0, got {self.rationality}")
        self.rng = np.random.default_rng(self.seed)

    @classmethod
    def from_style(cls, style: str | Path, embedder, rationality: float = 10.0, seed: int = 0) -> LinearUser:
        return cls(style_theta(read_style(style), embedder), rationality, seed)

    def probabilities(self, X) -> np.ndarray:
        """(K,) choice probabilities for options X (K, d)."""
        u = self.rationality * (np.asarray(X, dtype=np.float64) @ self.theta)
        u = u - u.max()
        p = np.exp(u)
        return p / p.sum()

    def choose(self, X) -> int:
        return int(self.rng.choice(len(X), p=self.probabilities(X)))


def cosine_error(theta_hat, theta_star) -> float:
    """1 − cos(θ̂, θ*); 1 when θ̂ = 0."""
    a, b = np.asarray(theta_hat, float), np.asarray(theta_star, float)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0
    return float(1.0 - a @ b / (na * nb))


def make_test_prompts(vocabulary: Vocabulary, n: int = 1000, blank: float = 0.3, seed: int = 0) -> list[str]:
    """n prompts from (held-out) vocabulary words, each slot left blank with probability ``blank``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        toks = [s.entries[rng.integers(len(s))] if rng.random() >= blank else "" for s in vocabulary.slots]
        text = join_prompt(toks)
        out.append(text or vocabulary.slots[0].entries[0])
    return out


def preference_error(theta_hat, theta_star, X_test, n_pairs: int = 5000, seed: int = 0, X_star=None) -> float:
    """Fraction of random pairs of test prompts that θ̂ and θ* order differently.

    X_test (m, d): the learner's features of the prompts; X_star (m, d): the user's features of the
    same prompts when they differ (misspecified worlds; default X_test). Ties under θ* are skipped;
    a tie under θ̂ counts as half an error.
    """
    X = np.asarray(X_test, dtype=np.float64)
    Xs = X if X_star is None else np.asarray(X_star, dtype=np.float64)
    rng = np.random.default_rng(seed)
    i = rng.integers(len(X), size=n_pairs)
    j = rng.integers(len(X), size=n_pairs)
    s_star = np.sign(Xs[i] @ theta_star - Xs[j] @ theta_star)
    s_hat = np.sign(X[i] @ np.asarray(theta_hat, float) - X[j] @ np.asarray(theta_hat, float))
    ok = s_star != 0
    if not ok.any():
        return 0.0
    err = np.where(s_hat[ok] == 0, 0.5, (s_hat[ok] != s_star[ok]).astype(float))
    return float(err.mean())
