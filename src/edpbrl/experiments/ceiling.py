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

**Variance is not the error at one person's θ.** T is the Bayes risk: the squared error averaged
over people drawn from the prior. For one person the linearised MAP error is θ̂ − θ ≈ H⁻¹(P(m − θ) +
s), s the answers' score noise (covariance F = H − P), so their expected C-weighted squared error is

    R(H) = bᵀH⁻¹CH⁻¹b + tr(CH⁻¹FH⁻¹),    b = P(m − θ),

a bias term (how far the prior's mean m pulls the estimate) plus the variance term. Averaged over
θ ~ N(m, P⁻¹), R = T. The report gives R for the oracle's and random questions, and with
``realise`` > 0 it simulates that many people's answers (softmax at the true θ) along the oracle's
order and along a fresh random order each, fits the MAP estimate at each budget and reports the
preference error on held-out test pairs (mean and standard error).

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

**How much can the answers say about this person at all?** ``random_evidence`` and
``oracle_evidence`` give, per budget, the expected log-likelihood ratio of the answers in favour of
the person's θ over the prior's mean m, Σ_q KL(p_θ(q) ‖ p_m(q)) in nats (p(q) the K choice
probabilities of question q): what the answers carry about where the person departs from the
prior. A few nats cannot single out a direction of departure among hundreds, whatever the
design; the oracle, knowing the direction, can ask where it shows. ``question_evidence_max`` is
the most any single question of the pool carries for this person (n times it bounds what n
answers from the pool can carry); ``departure_distance`` is (θ − m)ᵀP(θ − m)/d, 1 on average for
a person drawn from the prior.

One switch gives it *more* knowledge: ``target="risk"`` chooses by R (below) at the true θ, the
expected error of this person's own estimate, bias included (it implies ``knows="truth"``). No
design can know the bias; it bounds what any choice from the pool can do for one person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..design.pool import info_factors, prefix_covariance, risk_gains, variance_gains
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
    target: str  # "test" or "vocab": the scores whose variance its choices lower; "risk": R itself
    questions_per_episode: int
    pool: int
    questions: list[int]  # budgets in questions
    prior_variance: float  # T before any question
    random_variance: list[float]  # mean over ``orders`` random orders
    oracle_variance: list[float]
    random_questions_for_oracle: list[float]  # random questions reaching the oracle's T (inf: beyond)
    random_risk: list[float] | None = None  # R (module docstring) at this θ, mean over orders
    oracle_risk: list[float] | None = None
    random_bias: list[float] | None = None  # R's bias term alone
    oracle_bias: list[float] | None = None
    realised: int = 0  # simulated people (0: none; the fields below stay None)
    random_pref_error: list[float] | None = None  # mean over the simulated people, per budget
    random_pref_error_se: list[float] | None = None
    oracle_pref_error: list[float] | None = None
    oracle_pref_error_se: list[float] | None = None
    random_sq_error: list[float] | None = None  # their mean (θ̂ − θ)ᵀC(θ̂ − θ): what R predicts
    oracle_sq_error: list[float] | None = None
    random_evidence: list[float] | None = None  # nats about θ vs the prior's mean (docstring)
    oracle_evidence: list[float] | None = None
    departure_distance: float | None = None  # (θ − m)ᵀP(θ − m)/d: 1 for a typical person
    question_evidence_mean: float | None = None  # nats per question, mean over the pool's questions
    question_evidence_max: float | None = None  # the pool's single most telling question
    oracle_order: list[int] | None = None  # the pool episodes the oracle asked, in order

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
    realise: int = 0,
) -> CeilingResult:
    """The oracle bound of the module docstring for one style (see :class:`CeilingResult`)."""
    for name, value, allowed in (
        ("knows", knows, ("truth", "prior")),
        ("features", features, ("real", "surrogate")),
        ("target", target, ("test", "vocab", "risk")),
    ):
        if value not in allowed:
            raise EdpbrlError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    if pool < 2:
        raise EdpbrlError(f"the pool needs at least 2 episodes, got {pool}")
    if isinstance(realise, bool) or not isinstance(realise, int) or realise < 0:
        raise EdpbrlError(f"realise must be an integer ≥ 0 (simulated people), got {realise!r}")
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
        m = theta_known
    else:
        P = cfg.lam * torch.eye(theta.shape[0], dtype=torch.float64)
        theta_known = None  # a flat prior knows nothing: uniform choice probabilities
        m = torch.zeros_like(theta)
    b = P @ (m - theta)  # the prior's pull at this person's θ (R's bias term)
    if knows == "truth" or target == "risk":
        theta_known = theta
    rng = np.random.default_rng(seed)
    eps = np.stack(
        [np.stack([rng.integers(len(s), size=cfg.k) for s in vocab.slots], -1) for _ in range(pool)]
    )  # (pool, K, H)
    stages = 3 if realise else 2
    if progress:
        progress(0, stages, f"encoding the prefixes of {pool} episodes")
    X = encoded_options(w.learner.encode, vocab, eps)[:, :, steps]  # only the steps that ask
    U = info_factors(X, theta)  # (pool, d, |steps|·K): the exact information at the true θ
    kl_q = question_evidence(X, theta, m)  # (pool, steps) nats each answer carries about θ vs m
    kl = kl_q.sum(1)
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

    def R(H):  # (bias term, bias + variance) at this θ, linearised
        bias, total = risk_terms(H[None], C, P, b)
        return float(bias[0]), float(total[0])

    # random orders of the pool: T after every episode, averaged over orders
    horizon = min(pool, 3 * need)  # random is followed further, to say how many it needs
    rand = np.zeros(horizon + 1)
    rand_R = np.zeros((len(n_ep), 2))
    rand_kl = np.zeros(len(n_ep))
    for _ in range(orders):
        H = P.clone()
        curve = [T(H)]
        order = rng.permutation(pool)[:horizon]
        rand_kl += np.array([float(kl[order[:n]].sum()) for n in n_ep]) / orders
        for t, i in enumerate(order, start=1):
            H = H + U[i] @ U[i].T
            curve.append(T(H))
            for j, n in enumerate(n_ep):
                if t == n:
                    rand_R[j] += np.asarray(R(H)) / orders
        rand += np.asarray(curve) / orders
    if progress:
        progress(1, stages, "oracle")
    H = P.clone()
    H_choose = P.clone()  # the posterior precision as the chooser sees it
    D = torch.outer(b, b) - P  # R = T + tr(H⁻¹CH⁻¹D): the risk target's bias moment
    oracle = [T(H)]
    oracle_R = []
    chosen = []
    free = torch.ones(pool, dtype=torch.bool)
    for t in range(1, need + 1):
        if target == "risk":  # (knows the truth: H_choose is H)
            g = risk_gains(H_choose, U_choose, C, D)
        else:
            g = variance_gains(H_choose, U_choose, C_choose)
        g[~free] = -torch.inf
        i = int(torch.argmax(g))
        free[i] = False
        chosen.append(i)
        H = H + U[i] @ U[i].T
        H_choose = H_choose + U_choose[i] @ U_choose[i].T
        oracle.append(T(H))
        if t in n_ep:
            oracle_R.append(R(H))
    real = {}
    if realise:
        if progress:
            progress(2, stages, f"simulating {realise} people")
        real = _realise(X, theta, theta_star, P, m, C, prior is None, cfg, w, chosen, n_ep, realise, seed)
    if progress:
        progress(stages, stages, "done")

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
        random_risk=[float(r[1]) for r in rand_R],
        oracle_risk=[float(r[1]) for r in oracle_R],
        random_bias=[float(r[0]) for r in rand_R],
        oracle_bias=[float(r[0]) for r in oracle_R],
        realised=int(realise),
        random_evidence=[float(v) for v in rand_kl],
        oracle_evidence=[float(kl[chosen[:n]].sum()) for n in n_ep],
        departure_distance=float((theta - m) @ P @ (theta - m)) / theta.shape[0],
        oracle_order=[int(i) for i in chosen],
        question_evidence_mean=float(kl_q.mean()),
        question_evidence_max=float(kl_q.max()),
        **real,
    )


def question_evidence(X, theta, m) -> torch.Tensor:
    """KL(softmax(X_h θ) ‖ softmax(X_h m)) for every question (n, H), in nats: the expected
    log-likelihood ratio of its answer for θ over m. X (n, K, H, d) options' features; θ, m (d,)."""
    lp = torch.log_softmax(torch.einsum("nkhd,d->nkh", X, theta), dim=1)
    lq = torch.log_softmax(torch.einsum("nkhd,d->nkh", X, m.to(X.dtype)), dim=1)
    return (lp.exp() * (lp - lq)).sum(1)


def risk_terms(Hs, C, P, b) -> tuple[torch.Tensor, torch.Tensor]:
    """R's bias term and R itself (module docstring) for each posterior precision in Hs (c, d, d);
    C, P (d, d); b (d,) = P(m − θ). Two (c,) tensors."""
    L = torch.linalg.cholesky(Hs)
    hb = torch.cholesky_solve(b.expand(len(Hs), -1)[..., None], L)  # H⁻¹b (c, d, 1)
    A = torch.cholesky_solve(C.expand(len(Hs), -1, -1), L)  # H⁻¹C
    B = torch.cholesky_solve(Hs - P, L)  # H⁻¹F
    bias = (hb.transpose(1, 2) @ C @ hb)[:, 0, 0]
    return bias, bias + (A * B.transpose(1, 2)).sum((1, 2))


def _realise(X, theta, theta_star, P, m, C, flat, cfg, w, chosen, n_ep, people, seed) -> dict:
    """Simulated people's preference error along the oracle's order and along random orders.

    X (pool, K, steps, d): the options' features; θ = β θ*: the true utility; P, m: the learner's
    prior (``flat``: λI and 0, fitted as the plain regularised MLE); C (d, d): the test prompts'
    feature covariance. Each person answers by
    sampling the softmax at θ; the MAP estimate is fitted at each budget in ``n_ep`` episodes."""
    from ..choice import fit_mle
    from ..users import preference_error

    Xn, th, C = X.numpy(), theta.numpy(), C.numpy()
    errs = {"random": np.zeros((people, len(n_ep))), "oracle": np.zeros((people, len(n_ep)))}
    sq = {k: np.zeros(len(n_ep)) for k in errs}
    for s in range(people):
        rng = np.random.default_rng([seed, 1, s])
        orders = {"oracle": list(chosen), "random": list(rng.permutation(len(Xn))[: max(n_ep)])}
        for name, order in orders.items():
            Q = Xn[order].transpose(0, 2, 1, 3).reshape(-1, Xn.shape[1], Xn.shape[3])  # (n, K, d)
            u = Q @ th
            p = np.exp(u - u.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            y = np.array([rng.choice(len(r), p=r) for r in p])
            per = Xn.shape[2]
            for j, n in enumerate(n_ep):
                q = n * per
                if flat:
                    res = fit_mle(Q[:q], y[:q], cfg.lam)
                else:
                    res = fit_mle(Q[:q], y[:q], 1.0, prior=P, prior_mean=m)
                est = res.theta.cpu().numpy()
                errs[name][s, j] = preference_error(est, theta_star, w.X_test_learner, cfg.n_pairs, seed=s)
                sq[name][j] += float((est - th) @ C @ (est - th)) / people
    out = {}
    for k, e in errs.items():
        out[f"{k}_pref_error"] = [float(v) for v in e.mean(0)]
        se = e.std(0, ddof=1) / np.sqrt(people) if people > 1 else np.zeros(len(n_ep))
        out[f"{k}_pref_error_se"] = [float(v) for v in se]
        out[f"{k}_sq_error"] = [float(v) for v in sq[k]]
    return out
