"""The K-policy design — the paper's ED-PBRL: K visitation measures, one per option.

Option q of every question is a rollout of its own policy π_q. With D = (d_1, …, d_K), d_q (N,)
the visitation of π_q over the rows (rows contiguous by step, ``offsets`` (H+1,)), let
μ_q^h = Σ_{i∈h} d_q(i) φ_i, S_q^h = Σ_{i∈h} d_q(i) φ_i φ_iᵀ and m^h = Σ_q μ_q^h. The θ-agnostic
(p = 1/K) Fisher information of the step-h question, in exact expectation over K independent
rollouts, is

    Z_h(D) = [ (K−1) Σ_q S_q^h − Σ_{q≠q'} μ_q^h μ_{q'}^hᵀ ] / K²  =  (K−1)/K · W_h + B_h,

W_h the mean within-policy covariance, B_h the covariance of the K policy means; the design
maximises f(M(D)) with M(D) = T Σ_h Z_h(D) + B (B = λP + extra).

**Structure (and a correction to a concavity claim).** Z is linear in each d_q separately but
*not jointly concave*: for K = 2 and one binary feature, E(x₁−x₂)² = p + r − 2pr is a saddle in
the two policies' probabilities (p, r). So the Frank-Wolfe gap certifies *stationarity* here, not
global optimality. Two facts make the problem tractable anyway:

* Block view: with a_q^h = m^h − μ_q^h and centres c_q^h = a_q^h / (K−1),

      M(D) = B_q + T(K−1)/K² Σ_h Σ_{i∈h} d_q(i) (φ_i − c_q^h)(φ_i − c_q^h)ᵀ,

  B_q independent of d_q: each block is an ordinary (concave) optimal-design problem with fixed
  centres, solved by the active-set Newton method of :mod:`.simplex` on a prompt MDP and by
  Frank-Wolfe with the planning oracle on any MDP (exact line search; M is linear along a block).
* Relaxation bound: Z_h = Cov_{d̄_h}(φ) − W_h/K ⪯ Cov_{d̄_h}(φ), d̄ the mixture of the K policies.
  So f(M(D)) ≤ f(T Σ_h Cov_{d̄_h} + B) ≤ the concave mixture design's optimum, which the mixture
  solvers certify: every K-policy design carries this global upper bound next to its
  stationarity gap. Equal policies give Z_h = (K−1)/K · Cov: the mixture design with options drawn
  i.i.d. keeps only (K−1)/K of the relaxation's information.

Equal policies are a stationary point of block ascent (a saddle), so the solver starts from the
mixture design's support split into K groups by weighted k-means in feature space (distinct
policies whose means are far apart), then runs block-coordinate ascent to a small gap.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..errors import DesignError
from .common import Logger, Progress, State, finish, group_stats, prepare
from .criteria import Criterion
from .domain import DesignDomain
from .linesearch import exact_line_search
from .result import Design, KPolicyDesign
from .simplex import _Problem, newton_iterations

Tensor = torch.Tensor
NAME = "kpolicy-block"


# -- the information and its gradient -----------------------------------------------------------------
def policy_means(Phi: Tensor, D: Tensor, offsets: Tensor) -> Tensor:
    """μ_q^h = Σ_{i∈h} d_q(i) φ_i for every policy and step: (K, H, d) from D (K, N)."""
    H = offsets.numel() - 1
    return torch.stack(
        [D[:, offsets[h] : offsets[h + 1]] @ Phi[offsets[h] : offsets[h + 1]] for h in range(H)], 1
    )


def kpolicy_information(
    Phi: Tensor, D: Tensor, offsets: Tensor, T: float, base: Tensor | None = None
) -> Tensor:
    """M(D) = T Σ_h Z_h(D) (+ ``base``): the θ-agnostic Fisher of T episodes of K-policy
    questions (one per step). Φ (N, d), D (K, N) visitations, offsets (H+1,); returns (d, d)."""
    K = D.shape[0]
    mu = policy_means(Phi, D, offsets)  # (K, H, d)
    m = mu.sum(0)  # (H, d)
    S = (Phi * D.sum(0)[:, None]).T @ Phi  # Σ_q Σ_h S_q^h
    cross = m.T @ m - torch.einsum("qhd,qhe->de", mu, mu)  # Σ_h Σ_{q≠q'} μ_q μ_q'ᵀ
    M = T * ((K - 1) * S - cross) / K**2
    if base is not None:
        M = M + base
    return 0.5 * (M + M.T)


def kpolicy_gradient(crit: Criterion, Phi: Tensor, D: Tensor, offsets: Tensor, T: float, base: Tensor):
    """(f, M, g) at D: the objective, the information (d, d) and the exact partial derivatives
    g (K, N), g_q(i) = T/K² [ (K−1) φ_iᵀ G φ_i − 2 φ_iᵀ G a_q^h ], G = ∂f/∂M, a_q^h = m^h − μ_q^h."""
    K = D.shape[0]
    M = kpolicy_information(Phi, D, offsets, T, base)
    f, C = crit.factor(M)
    mu = policy_means(Phi, D, offsets)
    a = mu.sum(0)[None] - mu  # (K, H, d)
    sizes = offsets[1:] - offsets[:-1]
    Y = Phi @ C  # (N, r)
    H = offsets.numel() - 1
    YA = (Y @ (a @ C).reshape(K * H, -1).T).reshape(-1, K, H)  # φ_iᵀ G a_q^h for every q, h
    slot = torch.repeat_interleave(torch.arange(H, device=Phi.device), sizes)
    lin = YA[torch.arange(Phi.shape[0], device=Phi.device), :, slot].T  # (K, N): h = the row's step
    g = (T / K**2) * ((K - 1) * (Y * Y).sum(1)[None] - 2 * lin)
    return float(f), M, g


def block_problem(
    crit: Criterion, Phi: Tensor, D: Tensor, offsets: Tensor, T: float, M: Tensor, q: int
) -> _Problem:
    """Block q as a linear design problem (fixed centres c_q^h = a_q^h/(K−1), scale T(K−1)/K²),
    whose constant part B_q makes its information equal M = M(D) at the current d_q."""
    K = D.shape[0]
    mu = policy_means(Phi, D, offsets)
    centres = (mu.sum(0) - mu[q]) / (K - 1)  # (H, d)
    Tq = T * (K - 1) / K**2
    pb = _Problem(Phi, offsets, Tq, M, crit, centres=centres)
    sup = torch.nonzero(D[q] > 0).flatten()
    U = pb.centred(sup, D[q, sup])
    pb.base = M - Tq * (U * D[q, sup, None]).T @ U
    pb.base = 0.5 * (pb.base + pb.base.T)
    return pb


# -- starting points --------------------------------------------------------------------------------
def split_policies(w: Tensor, Phi: Tensor, offsets: Tensor, K: int, iters: int = 25) -> Tensor:
    """K policies (K, N) from mixture weights w (N,): in every step the support of w is split into
    K groups by weighted k-means on the features (farthest-point start, deterministic), and policy
    q is w restricted to group q. A step with fewer than K support rows deals them round-robin."""
    D = torch.zeros(K, w.numel(), dtype=w.dtype, device=w.device)
    for h in range(offsets.numel() - 1):
        lo = int(offsets[h])
        wh = w[offsets[h] : offsets[h + 1]]
        sup = torch.nonzero(wh > 0).flatten()
        if sup.numel() == 0:
            sup = torch.arange(wh.numel(), device=w.device)
        if sup.numel() <= K:
            for q in range(K):
                D[q, lo + sup[q % sup.numel()]] = 1.0
            continue
        X, ww = Phi[lo + sup], wh[sup]
        centres = [X[int(torch.argmax(ww))]]
        for _ in range(1, K):  # farthest point (weighted) from the centres so far
            dist = torch.stack([((X - c) ** 2).sum(1) for c in centres]).min(0).values
            centres.append(X[int(torch.argmax(dist * ww))])
        C = torch.stack(centres)
        for _ in range(iters):
            lab = torch.cdist(X, C).argmin(1)
            for q in range(K):
                sel = lab == q
                if sel.any():
                    C[q] = (ww[sel, None] * X[sel]).sum(0) / ww[sel].sum()
        lab = torch.cdist(X, C).argmin(1)
        for q in range(K):
            sel = lab == q
            if not sel.any():  # an empty group takes the heaviest row of the largest group
                big = int(torch.bincount(lab, minlength=K).argmax())
                j = int(torch.argmax(torch.where(lab == big, ww, -torch.inf)))
                lab[j], sel = q, lab == q
            D[q, lo + sup[sel]] = ww[sel] / ww[sel].sum()
    return D


# -- the solver -------------------------------------------------------------------------------------
def kpolicy_design(
    domain: DesignDomain,
    *,
    k: int = 4,
    criterion: str | Criterion = "A",
    episodes: float = 50,
    lam: float = 0.1,
    prior: Tensor | None = None,
    V: Tensor | None = None,
    extra: Tensor | None = None,
    tol: float = 1e-4,
    max_iter: int = 200,
    inner: int = 3,
    init: str | Tensor = "split",
    bound: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    verbose: bool = False,
    progress: Progress | None = None,
) -> KPolicyDesign:
    """Block-coordinate ascent for the K-policy design (see the module docstring).

    Each sweep computes the exact gradient of every block, the Frank-Wolfe gap of the product of
    the K polytopes (Σ_q max-over-vertices of ⟨g_q, v − d_q⟩, a stationarity measure) and stops
    when it is ≤ ``tol``·|f| or after ``max_iter`` sweeps; otherwise every block in turn takes
    ``inner`` steps on its own concave problem: active-set Newton on a product of simplices,
    Frank-Wolfe with the planning oracle and exact line search on a general MDP.

    ``init``: "split" (the mixture design's support split by k-means; default), "symmetric" (every
    policy = the mixture design: a saddle point, for diagnostics), "random" (random distinct
    vertices mixed with the uniform policy; ``seed``) or a (K, N) tensor of visitations.
    ``bound``: also solve the concave mixture relaxation to certify a global upper bound f* ≤ U
    (``certificate.upper_bound``). Returns a :class:`~.result.KPolicyDesign`.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise DesignError(f"K must be an integer ≥ 2, got {k!r}")
    if isinstance(inner, bool) or not isinstance(inner, int) or inner < 1:
        raise DesignError(f"inner must be a positive integer, got {inner!r}")
    T = float(episodes)
    Phi, offsets, prior, crit = prepare(domain, T, lam, prior, criterion, V, dtype, device)
    d = Phi.shape[1]
    base = lam * (torch.eye(d, dtype=dtype, device=device) if prior is None else prior)
    if extra is not None:
        base = base + torch.as_tensor(extra, dtype=dtype, device=device)
    base = 0.5 * (base + base.T)
    simplices = bool(domain.product_of_simplices)

    relax = None
    if bound or (isinstance(init, str) and init in ("split", "symmetric")):
        relax = _mixture_relaxation(domain, crit, T, lam, prior, extra, tol, device, dtype, simplices)
    D = _initial(init, relax, domain, Phi, offsets, k, seed, device, dtype)

    logger = Logger(verbose, progress, max_iter, NAME)
    it, gap = 0, float("inf")
    while True:
        f, M, g = kpolicy_gradient(crit, Phi, D, offsets, T, base)
        gap = _product_gap(domain, g, D, offsets, simplices)
        logger.log(it, f, gap)
        if gap <= tol * abs(f) or it >= max_iter:
            break
        it += 1
        for q in range(k):
            if simplices:
                pb = block_problem(crit, Phi, D, offsets, T, M, q)
                w, state, _, _ = newton_iterations(pb, D[q].clone(), tol=tol / k, max_iter=inner)
                D[q], M = w, state.M
            else:
                M = _block_frank_wolfe(domain, crit, Phi, D, offsets, T, M, q, inner)
    f, M, _ = kpolicy_gradient(crit, Phi, D, offsets, T, base)
    out = finish(NAME, crit, logger, State(M, f, torch.empty(0)), gap, it, tol, D.mean(0), offsets, T, lam)
    upper = None if relax is None or not bound else relax.certificate.objective + relax.certificate.gap
    cert = replace(out.certificate, optimality="stationary", upper_bound=upper)
    return KPolicyDesign(
        weights=out.weights,
        offsets=offsets,
        information=M,
        certificate=cert,
        policies=D,
        relaxation=relax if bound else None,
    )


def _mixture_relaxation(domain, crit, T, lam, prior, extra, tol, device, dtype, simplices) -> Design:
    """The concave mixture design at the same T, λ, prior: its certified optimum bounds f*."""
    from .frank_wolfe import frank_wolfe
    from .simplex import simplex_design

    solver = simplex_design if simplices else frank_wolfe
    return solver(
        domain,
        criterion=crit,
        episodes=T,
        lam=lam,
        prior=prior,
        extra=extra,
        tol=min(tol, 1e-5),
        max_iter=200 if simplices else 5000,
        device=device,
        dtype=dtype,
    )


def _initial(init, relax, domain, Phi, offsets, K, seed, device, dtype) -> Tensor:
    if isinstance(init, Tensor):
        D = init.to(device=device, dtype=dtype).clone()
        if D.shape != (K, Phi.shape[0]):
            raise DesignError(f"init must be (K, N) = {(K, Phi.shape[0])}, got {tuple(D.shape)}")
        return D
    if init == "split":
        return split_policies(relax.weights, Phi, offsets, K)
    if init == "symmetric":
        return relax.weights[None].repeat(K, 1)
    if init == "random":
        g = torch.Generator(device="cpu").manual_seed(seed)
        u = domain.uniform().to(device=device, dtype=dtype)
        rows = []
        for _ in range(K):
            reward = torch.randn(Phi.shape[0], generator=g, dtype=dtype).to(device)
            _, v = domain.best_response(reward)
            rows.append(0.7 * v.to(device=device, dtype=dtype) + 0.3 * u)
        return torch.stack(rows)
    raise DesignError(f"unknown init {init!r}: split, symmetric, random or a (K, N) tensor")


def _product_gap(domain, g: Tensor, D: Tensor, offsets: Tensor, simplices: bool) -> float:
    """Σ_q max_{v ∈ polytope} ⟨g_q, v − d_q⟩ (the product's linear oracle splits over blocks)."""
    gap = 0.0
    for q in range(D.shape[0]):
        if simplices:
            _, mx, mean = group_stats(g[q], D[q], offsets)
            gap += float((mx - mean).sum())
        else:
            _, v = domain.best_response(g[q])
            gap += float(g[q] @ (v.to(g.dtype) - D[q]))
    return gap


def _block_frank_wolfe(domain, crit, Phi, D, offsets, T, M, q, steps) -> Tensor:
    """``steps`` Frank-Wolfe steps on block q with the planning oracle and exact line search (M is
    linear along a block direction); updates D[q] in place and returns the new M."""
    for _ in range(steps):
        pb = block_problem(crit, Phi, D, offsets, T, M, q)
        state = pb.evaluate(D[q])
        _, v = domain.best_response(state.c)
        delta = v.to(D.dtype) - D[q]
        nz = torch.nonzero(delta).flatten()
        if nz.numel() == 0:
            break
        U = pb.centred(nz, delta[nz])
        A1 = pb.T * (U * delta[nz, None]).T @ U
        gamma = exact_line_search(crit, M, 0.5 * (A1 + A1.T), torch.zeros_like(A1), 1.0)
        if gamma <= 0:
            break
        D[q] = (D[q] + gamma * delta).clamp_min(0)
        M = M + gamma * 0.5 * (A1 + A1.T)
    return M
