"""How good is the guess before any question, and how good could it be? (the zero-question error)

With a population prior the estimate after zero answers is the prior's mean moved by the person's
words, m(words) (:meth:`~edpbrl.prior.Prior.with_words`), and at β = 10 thirty answers move it by
little (``experiment ceiling``: they carry a few nats). So the error at 30 questions is mostly the
error of this guess. This module measures the guess's preference error for one person and puts it
between bounds that say where the rest of the error lies:

* ``population mean``: m alone (the words ignored);
* ``prior + words``: m(words), what the estimator and the app start from;
* ``words alone``: the words' unit embedding e as θ̂;
* ``best of mean and words`` (oracle): the best direction cos(a) m̂ + sin(a) ê over a grid of
  angles, chosen knowing the person's θ* — the most that fitting the two weights could give;
* ``population span`` (oracle): θ* projected (least squares) onto the span of the population's
  members — the most any prior mean built from these people could express;
* ``population span + words`` (oracle): the same span with e added;
* ``random span`` (oracle, a control): the span of m and as many random Gaussian directions as
  the population has other members, the mean over ``RANDOM_SPANS`` draws — how much of the
  ``population span`` bound any subspace of that dimension would give.

The oracles know θ*: they are not estimators but bounds on what a better use of the population
(``population span``) or of the words (``best of mean and words``) could reach. When the span bound
is low and the guess is not, the population can express the person and the information to find
them is what is missing — from the words or from the answers. All guesses are directions: the
preference error ignores scale. The population is the learner's prior with the evaluated style's
namesake left out (as in every experiment: no leakage).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import EdpbrlError
from ..users import cosine_error, preference_error
from .simulate import SimConfig, learner_prior, person_theta, person_words, setup_world, style_name

GUESSES = (
    "population mean",
    "prior + words",
    "words alone",
    "best of mean and words",
    "population span",
    "population span + words",
    "random span",
)
ORACLES = ("best of mean and words", "population span", "population span + words", "random span")
RANDOM_SPANS = 5  # draws averaged for the random-span control
ANGLES = 181  # grid of cos(a) m̂ + sin(a) ê, a in [-π/2, π/2]


@dataclass
class GuessResult:
    """The zero-question guesses for one person (see the module docstring)."""

    style: str
    words: str | None
    members: int  # population members the prior holds (the namesake left out)
    left_out: list[str]
    preference_error: dict[str, float]  # per guess (GUESSES; words-based ones absent without words)
    cosine_error: dict[str, float]
    best_angle: float | None  # the oracle's a, in degrees (0: the mean's direction, 90: the words')

    def as_dict(self) -> dict:
        return asdict(self)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0:
        raise EdpbrlError("a guess has zero or non-finite norm")
    return v / n


def span_projection(basis: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares projection (d,) of ``target`` (d,) onto the row span of ``basis`` (n, d)."""
    B = np.asarray(basis, dtype=np.float64)
    coef, *_ = np.linalg.lstsq(B.T, np.asarray(target, dtype=np.float64), rcond=None)
    return B.T @ coef


def zero_question_guesses(style: str, cfg: SimConfig, n_pairs: int | None = None) -> GuessResult:
    """The guesses of the module docstring for the person of ``style`` under ``cfg`` (which must
    name a prior: ``cfg.prior`` ≠ "none"), scored on the world's held-out test prompts."""
    w = setup_world(cfg)
    prior = learner_prior(style, cfg, w)
    if prior is None:
        raise EdpbrlError("the zero-question guess needs a prior (--prior packaged or a file), not 'none'")
    theta = person_theta(style, cfg, w)
    words = person_words(style, cfg, w, theta)
    X, Xs = w.X_test_learner, w.X_test_user
    pairs = cfg.n_pairs if n_pairs is None else n_pairs

    def pref(g: np.ndarray) -> float:
        return preference_error(g, theta, X, pairs, seed=0, X_star=Xs)

    guesses = {"population mean": prior.mean}
    pop = np.asarray(prior.population, dtype=np.float64)
    angle = None
    if words is not None:
        e = np.asarray(w.learner.encode([words])[0], dtype=np.float64)
        guesses["prior + words"] = prior.with_words(e).mean
        guesses["words alone"] = e
        m_hat, e_hat = _unit(prior.mean), _unit(e)
        grid = np.linspace(-np.pi / 2, np.pi / 2, ANGLES)
        errs = [pref(np.cos(a) * m_hat + np.sin(a) * e_hat) for a in grid]
        best = int(np.argmin(errs))
        angle = float(np.degrees(grid[best]))
        guesses["best of mean and words"] = np.cos(grid[best]) * m_hat + np.sin(grid[best]) * e_hat
    guesses["population span"] = span_projection(pop, theta)
    if words is not None:
        guesses["population span + words"] = span_projection(np.vstack([pop, e]), theta)
    rng = np.random.default_rng(0)
    spans = [
        np.vstack([prior.mean, rng.standard_normal((pop.shape[0] - 1, pop.shape[1]))])
        for _ in range(RANDOM_SPANS)
    ]
    random_span = float(np.mean([pref(span_projection(B, theta)) for B in spans]))
    random_cos = float(np.mean([cosine_error(span_projection(B, theta), theta) for B in spans]))
    pe = {k: pref(g) for k, g in guesses.items()}
    ce = {k: cosine_error(g, theta) for k, g in guesses.items()}
    pe["random span"], ce["random span"] = random_span, random_cos
    return GuessResult(
        style=style_name(style),
        words=words,
        members=int(pop.shape[0]),
        left_out=list(prior.left_out),
        preference_error=pe,
        cosine_error=ce,
        best_angle=angle,
    )
