"""How much can any choice of questions gain over random ones? An oracle bound under the prior.

The question-efficiency targets ask designed questions to match random questions' error with a
third of the questions. Whether that is possible depends on how unequal the questions one can ask
are: if the best question from the vocabulary carries barely more information than a random one,
no design can be 3× better, whatever its optimiser. This module measures that with an **oracle**
that no real design can beat in the Laplace picture:

* it knows the person's true θ = β θ*, so each candidate episode's information is its exact
  Fisher matrix F_e(θ) computed from the features the learner actually sees (whole-prompt
  embeddings of the options' prefixes, not the design's per-token surrogate);
* it picks greedily from a large random pool the episode that most lowers the posterior variance
  of the held-out test prompts' scores, T(H) = tr(C H⁻¹), C (d, d) the covariance of the test
  prompts' features and H the posterior precision (the prior's precision plus the information of
  the questions so far). T is the quantity the preference error follows: it is the expected
  squared error of the estimated scores of test prompts around their mean.

Random questions are the same pool taken in random order. The report gives T at each budget for
both, and how many random questions reach the oracle's T (by interpolation on the random curve):
that ratio is an upper bound on the question-efficiency gain of any design in this setting.

**What the oracle's gain is made of.** Three switches take its knowledge away one at a time (the
questions are always *scored* by the exact information at the true θ and by T):

* ``knows="prior"``: it chooses with the information at the prior's mean (given the words) instead
  of at the true θ — what a design can know before the first answer;
* ``features="surrogate"``: it chooses with the designs' per-token surrogate features (the
  normalised sums of the options' token embeddings) instead of the encoder's embedding of each
  prefix;
* ``target="vocab"``: it lowers the variance of the design vocabulary's random prefixes' scores
  instead of the held-out test prompts' (what a design can know without the test set).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..design.pool import info_factors, prefix_covariance, variance_gains
from ..errors import EdpbrlError
from ..strategies.candidates import encoded_options
from .simulate import SimConfig, learner_prior, person_theta, person_words, setup_world


@dataclass
class CeilingResult:
    """Posterior test-score variance T per budget for random and oracle questions (one style)."""

    style: str
    prior: str
    words: str | None
    knows: str  # "truth" or "prior": the θ the oracle's choices use
    features: str  # "real" or "surrogate": the features its choices use
    target: str  # "test" or "vocab": the scores whose variance its choices lower
    questions_per_episode: int
    pool: int
    questions: list[int]  # budgets in questions
    prior_variance: float  # T before any question
    random_variance: list[float]  # mean over ``orders`` random orders
    oracle_variance: list[float]
    random_questions_for_oracle: list[float]  # random questions reaching the oracle's T (inf: beyond)

    def as_dict(self) -> dict:
        return asdict(self)


def information_ceiling(
    style: str,
    cfg: SimConfig,
    budgets=(30, 100, 300),
    pool: int = 600,
    orders: int = 20,
    seed: int = 0,
    progress=None,
    knows: str = "truth",
    features: str = "real",
    target: str = "test",
) -> CeilingResult:
    """The oracle bound of the module docstring for one style (see :class:`CeilingResult`)."""
    for name, value, allowed in (
        ("knows", knows, ("truth", "prior")),
        ("features", features, ("real", "surrogate")),
        ("target", target, ("test", "vocab")),
    ):
        if value not in allowed:
            raise EdpbrlError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    if pool < 2:
        raise EdpbrlError(f"the pool needs at least 2 episodes, got {pool}")
    w = setup_world(cfg)
    vocab = w.design_vocab
    steps = [h for h, s in enumerate(vocab.slots) if len(s) > 1]  # slots that ask a question
    if not steps:
        raise EdpbrlError("the vocabulary asks no question (every slot has one entry)")
    theta_star = person_theta(style, cfg, w)
    theta = torch.as_tensor(cfg.rationality * theta_star)
    prior = learner_prior(style, cfg, w)
    words = person_words(style, cfg, w, theta_star)
    if prior is not None:
        e = None if words is None else np.asarray(w.learner.encode([words])[0], dtype=np.float64)
        moved = prior.with_words(e)
        P = torch.as_tensor(moved.theta_precision())
        theta_known = torch.as_tensor(moved.theta_mean())
    else:
        P = cfg.lam * torch.eye(theta.shape[0], dtype=torch.float64)
        theta_known = None  # a flat prior knows nothing: uniform choice probabilities
    if knows == "truth":
        theta_known = theta
    rng = np.random.default_rng(seed)
    eps = np.stack(
        [np.stack([rng.integers(len(s), size=cfg.k) for s in vocab.slots], -1) for _ in range(pool)]
    )  # (pool, K, H)
    if progress:
        progress(0, 2, f"encoding the prefixes of {pool} episodes")
    X = encoded_options(w.learner.encode, vocab, eps)[:, :, steps]  # only the steps that ask
    U = info_factors(X, theta)  # (pool, d, |steps|·K): the exact information at the true θ
    Xt = torch.as_tensor(w.X_test_learner)
    Xc = Xt - Xt.mean(0)
    C = Xc.T @ Xc / Xt.shape[0]
    # what the oracle chooses with (by default: everything it knows is exact)
    if features == "surrogate":
        from ..mdp import PromptMDP
        from ..strategies.candidates import surrogate_options

        Xs = surrogate_options(PromptMDP.from_embedder(vocab, w.learner), eps)[:, :, steps]
    else:
        Xs = X
    U_choose = info_factors(Xs, theta_known)
    if target == "vocab":
        C_choose = prefix_covariance(Xs)
    else:
        C_choose = C
    per = len(steps)
    n_ep = [max(1, int(np.ceil(b / per))) for b in budgets]
    need = max(n_ep)
    if need > pool:
        raise EdpbrlError(f"a pool of {pool} episodes cannot cover {need} episodes; raise pool")

    def T(H):
        return float(torch.trace(torch.cholesky_solve(C, torch.linalg.cholesky(H))))

    # random orders of the pool: T after every episode, averaged over orders
    horizon = min(pool, 3 * need)  # random is followed further, to say how many it needs
    rand = np.zeros(horizon + 1)
    for _ in range(orders):
        H = P.clone()
        curve = [T(H)]
        for i in rng.permutation(pool)[:horizon]:
            H = H + U[i] @ U[i].T
            curve.append(T(H))
        rand += np.asarray(curve) / orders
    if progress:
        progress(1, 2, "oracle")
    H = P.clone()
    H_choose = P.clone()  # the posterior precision as the chooser sees it
    oracle = [T(H)]
    free = torch.ones(pool, dtype=torch.bool)
    for _ in range(need):
        g = variance_gains(H_choose, U_choose, C_choose)
        g[~free] = -torch.inf
        i = int(torch.argmax(g))
        free[i] = False
        H = H + U[i] @ U[i].T
        H_choose = H_choose + U_choose[i] @ U_choose[i].T
        oracle.append(T(H))
    if progress:
        progress(2, 2, "done")

    def random_for(value):  # questions random needs for T ≤ value (log-linear interpolation)
        if value >= rand[0]:
            return 0.0
        below = np.nonzero(rand <= value)[0]
        if not len(below):
            return float("inf")
        j = int(below[0])
        a, b = np.log(rand[j - 1]), np.log(rand[j])
        frac = (a - np.log(value)) / (a - b) if a != b else 1.0
        return float((j - 1 + frac) * per)

    return CeilingResult(
        style=str(style),
        prior=cfg.prior,
        words=words,
        knows=knows,
        features=features,
        target=target,
        questions_per_episode=per,
        pool=pool,
        questions=[n * per for n in n_ep],
        prior_variance=oracle[0],
        random_variance=[float(rand[n]) for n in n_ep],
        oracle_variance=[oracle[n] for n in n_ep],
        random_questions_for_oracle=[random_for(oracle[n]) for n in n_ep],
    )
