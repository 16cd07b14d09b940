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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..design.pool import info_factors, variance_gains
from ..errors import EdpbrlError
from ..vocab import join_prompt
from .simulate import SimConfig, learner_prior, person_theta, person_words, setup_world


@dataclass
class CeilingResult:
    """Posterior test-score variance T per budget for random and oracle questions (one style)."""

    style: str
    prior: str
    words: str | None
    questions_per_episode: int
    pool: int
    questions: list[int]  # budgets in questions
    prior_variance: float  # T before any question
    random_variance: list[float]  # mean over ``orders`` random orders
    oracle_variance: list[float]
    random_questions_for_oracle: list[float]  # random questions reaching the oracle's T (inf: beyond)

    def as_dict(self) -> dict:
        return asdict(self)


def _episode_texts(vocab, episodes: np.ndarray) -> list[list[list[str]]]:
    """Option prefix texts [e][k][h] of episodes (n, K, H) of token indices."""
    slots = vocab.slots
    out = []
    for ep in episodes:
        rows = []
        for opt in ep:
            toks = [slots[h].entries[int(t)] for h, t in enumerate(opt)]
            rows.append([join_prompt(toks[: h + 1]) for h in range(len(toks))])
        out.append(rows)
    return out


def information_ceiling(
    style: str,
    cfg: SimConfig,
    budgets=(30, 100, 300),
    pool: int = 600,
    orders: int = 20,
    seed: int = 0,
    progress=None,
) -> CeilingResult:
    """The oracle bound of the module docstring for one style (see :class:`CeilingResult`)."""
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
        P = torch.as_tensor(prior.with_words(e).theta_precision())
    else:
        P = cfg.lam * torch.eye(theta.shape[0], dtype=torch.float64)
    rng = np.random.default_rng(seed)
    eps = np.stack(
        [np.stack([rng.integers(len(s), size=cfg.k) for s in vocab.slots], -1) for _ in range(pool)]
    )  # (pool, K, H)
    texts = _episode_texts(vocab, eps)
    flat = [t for e in texts for o in e for t in o]
    uniq = list(dict.fromkeys(flat))
    if progress:
        progress(0, 2, f"encoding {len(uniq)} prefixes")
    E = np.asarray(w.learner.encode(uniq), dtype=np.float64)
    index = {t: i for i, t in enumerate(uniq)}
    X = torch.as_tensor(E[[index[t] for t in flat]]).reshape(pool, cfg.k, len(vocab.slots), -1)
    X = X[:, :, steps]  # only the steps that ask
    U = info_factors(X, theta)  # (pool, d, |steps|·K): the exact information at the true θ
    Xt = torch.as_tensor(w.X_test_learner)
    Xc = Xt - Xt.mean(0)
    C = Xc.T @ Xc / Xt.shape[0]
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
    oracle = [T(H)]
    free = torch.ones(pool, dtype=torch.bool)
    for _ in range(need):
        g = variance_gains(H, U, C)
        g[~free] = -torch.inf
        i = int(torch.argmax(g))
        free[i] = False
        H = H + U[i] @ U[i].T
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
        questions_per_episode=per,
        pool=pool,
        questions=[n * per for n in n_ep],
        prior_variance=oracle[0],
        random_variance=[float(rand[n]) for n in n_ep],
        oracle_variance=[oracle[n] for n in n_ep],
        random_questions_for_oracle=[random_for(oracle[n]) for n in n_ep],
    )
