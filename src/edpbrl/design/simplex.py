"""Active-set Newton solver for designs over a product of simplices (the prompt MDP).

Problem: rows i = 1..N (tokens) in H contiguous slots (``offsets`` (H+1,)), features Φ (N, d),
weights w (N,) ≥ 0 summing to one in each slot; maximise a concave f(M(w)) with

    M(w) = T Σ_h Σ_{i∈h} w_i u_i u_iᵀ + B,      u_i = φ_i − μ_h,  μ_h = Σ_{i∈h} w_i φ_i,

B = λP (+ ``extra``). M is the Schur complement of the *linear* moment matrix
Ã(w) = T Σ_i w_i z_i z_iᵀ + diag(B, 0) with z_i = (φ_i, e_h), so along feasible directions (slot
sums fixed) f is a smooth concave function of w with closed-form derivatives. With
Q = U M⁻¹ Uᵀ + E/T (= z_iᵀ Ã⁻¹ z_j; E_ij = 1 when i, j share a slot), G = ∂f/∂M and R = U G Uᵀ:

* gradient (centred): c_i = T R_ii,
* Hessian, A/V-criteria (f = −tr(K M⁻¹)): ∇²f = −2T² Q ∘ R;  D-criterion: ∇²f = −T² Q ∘ Q.

For the E-criterion the A/V formula with the matching K = M G M is used as a negative-definite
model (exact gradient, approximate curvature; the line search keeps every step an ascent step).

Algorithm (one concept: Newton on a screened working set, certified on all rows). Each iteration

1. a full pass over all N rows gives the centred gradient c and the Frank-Wolfe duality gap
   gap = Σ_h (max_{i∈h} c_i − Σ_{i∈h} w_i c_i) ≥ f* − f(w)  (stop when gap ≤ tol·|f|);
2. the working set is the support of w plus, per slot, the ``candidates`` zero-weight rows of
   largest c above the slot average (the rows the gap says should enter);
3. one Newton step on the working set: the quadratic model over the working set's product of
   simplices is maximised exactly by a primal-dual active-set method (a few Cholesky
   factorisations of the free block of the m × m Hessian, in float64), then an exact line search
   on the true objective along the step keeps the iteration monotone. Should the model step not
   ascend, a pairwise Frank-Wolfe step on the working set is taken instead.

Most tokens end with zero weight, so the working set stays a few times d while Newton converges in
a handful of iterations; the only O(N d²) work per iteration is the certifying full pass.
The first working set is the ``initial`` rows per slot of largest gradient at the uniform design.
"""

from __future__ import annotations

import torch

from ..errors import DesignError
from .common import Logger, Progress, State, finish, group_stats, prepare
from .criteria import Criterion
from .linesearch import exact_line_search
from .result import Design

Tensor = torch.Tensor

NAME = "simplex-newton"
PROX = 1e-8  # relative proximal (Levenberg-Marquardt) term of the Newton model, see _newton_step


def simplex_design(
    domain,
    *,
    criterion: str | Criterion = "A",
    episodes: float = 50,
    lam: float = 0.1,
    prior: Tensor | None = None,
    V: Tensor | None = None,
    extra: Tensor | None = None,
    tol: float = 1e-4,
    max_iter: int = 100,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    verbose: bool = False,
    progress: Progress | None = None,
    initial: int = 256,
    candidates: int = 128,
) -> Design:
    """Active-set Newton for the product of simplices (see the module docstring).

    Same arguments and result as :func:`~edpbrl.design.multiplicative.multiplicative`: ``domain`` with
    ``features`` (N, d), ``offsets`` (H+1,) and ``uniform()``; ``prior`` (d, d) replaces I in λI;
    ``extra`` (d, d) is added to M; stops when the relative FW gap ≤ ``tol`` or after ``max_iter``
    Newton steps. ``initial`` and ``candidates`` are the rows per slot of the first working set
    and the rows admitted per slot and iteration. The certificate's gap comes from the gradient
    over all N rows at the returned weights.
    """
    T = float(episodes)
    Phi, offsets, prior, crit = prepare(domain, T, lam, prior, criterion, V, dtype, device)
    d = Phi.shape[1]
    base = lam * (torch.eye(d, dtype=dtype, device=device) if prior is None else prior)
    if extra is not None:
        base = base + torch.as_tensor(extra, dtype=dtype, device=device)
    pb = _Problem(Phi, offsets, T, 0.5 * (base + base.T), crit)
    logger = Logger(verbose, progress, max_iter, NAME)
    # start: uniform over the `initial` rows per slot of largest gradient at the uniform design
    w = domain.uniform().to(device=device, dtype=dtype)
    idx = _top_rows(pb.evaluate(w).c, offsets, initial)
    w = torch.zeros_like(w)
    w[idx] = 1.0
    w = w / torch.repeat_interleave(pb.slot_sums(w, pb.slot), pb.sizes)
    w, state, gap, it = newton_iterations(
        pb, w, tol=tol, max_iter=max_iter, candidates=candidates, logger=logger
    )
    return finish(NAME, crit, logger, state, gap, it, tol, w, offsets, T, lam)


def newton_iterations(
    pb: _Problem, w: Tensor, *, tol: float, max_iter: int, candidates: int = 128, logger: Logger | None = None
) -> tuple[Tensor, State, float, int]:
    """Active-set Newton on ``pb`` from the feasible weights ``w`` (N,) until the relative FW gap
    ≤ ``tol`` or ``max_iter`` Newton steps; returns (w, state at w, FW gap, steps taken)."""
    offsets = pb.offsets
    state = pb.evaluate(w)
    it = 0
    while True:
        _, mx, mean = group_stats(state.c, w, offsets)
        gap = float((mx - mean).sum())
        if logger is not None:
            logger.log(it, state.f, gap)
        if gap <= tol * abs(state.f) or it >= max_iter:
            break
        it += 1
        # working set: the support and the best rows the gap asks to enter
        support = w > 0
        gain = torch.where(~support & (state.c > mean[pb.slot]), state.c, -torch.inf)
        idx = torch.cat([torch.nonzero(support).flatten(), _top_rows(gain, offsets, candidates)])
        idx = idx.sort().values
        x, gamma = _newton_step(pb, idx, w[idx], state.M)
        if gamma <= 0:
            break  # no ascent left at this precision; the certificate reports the gap
        w = torch.zeros_like(w)
        w[idx] = x
        state = pb.evaluate(w)
    return w, state, gap, it


class _Problem:
    """The fixed data: features Φ (N, d), ``offsets`` (H+1,), the slot of every row (N,), T, the
    constant part B = λP + extra of M (d, d) and the criterion.

    ``centres`` (H, d): None for the mixture problem above (rows centred at the weights' own
    slot means μ_h(w), M the Schur complement); given, the **linear** problem
    M(w) = T Σ_i w_i ũ_i ũ_iᵀ + B with ũ_i = φ_i − centres_h fixed — one block of the K-policy
    design (:mod:`.kpolicy`). Its Hessian has the same form without the E/T term, and M is linear
    along any step (A2 = 0)."""

    def __init__(
        self,
        Phi: Tensor,
        offsets: Tensor,
        T: float,
        base: Tensor,
        crit: Criterion,
        centres: Tensor | None = None,
    ):
        self.Phi, self.offsets, self.T, self.base, self.crit = Phi, offsets, T, base, crit
        self.centres = centres
        self.H = offsets.numel() - 1
        self.sizes = offsets[1:] - offsets[:-1]
        self.slot = torch.repeat_interleave(torch.arange(self.H, device=Phi.device), self.sizes)

    def slot_sums(self, v: Tensor, sl: Tensor) -> Tensor:
        """Σ of ``v`` (m,) per slot, ``sl`` (m,) the rows' slots; (H,)."""
        return torch.zeros(self.H, dtype=v.dtype, device=v.device).index_add_(0, sl, v)

    def means(self, idx: Tensor, x: Tensor) -> Tensor:
        """μ_h = Σ_{i∈h} x_i φ_i (H, d) for weights ``x`` (m,) on the rows ``idx`` (m,) (all
        other rows at zero weight)."""
        mu = torch.zeros(self.H, self.Phi.shape[1], dtype=x.dtype, device=x.device)
        return mu.index_add_(0, self.slot[idx], self.Phi[idx] * x[:, None])

    def centred(self, idx: Tensor, x: Tensor) -> Tensor:
        """Centred rows u_i = φ_i − μ_h (m, d) of the rows ``idx`` (m,) at weights ``x`` (m,)
        (φ_i − centres_h in the linear problem)."""
        if self.centres is not None:
            return self.Phi[idx] - self.centres[self.slot[idx]]
        return self.Phi[idx] - self.means(idx, x)[self.slot[idx]]

    def information(self, U: Tensor, x: Tensor) -> Tensor:
        """M = T Uᵀ diag(x) U + B (d, d) from centred rows U (m, d) with weights x (m,)."""
        M = self.T * (U * x[:, None]).T @ U + self.base
        return 0.5 * (M + M.T)

    def evaluate(self, w: Tensor) -> State:
        """Information, objective and centred gradient c (N,) over all rows at ``w`` (N,)."""
        sup = torch.nonzero(w > 0).flatten()
        mu = self.centres if self.centres is not None else self.means(sup, w[sup])
        U = self.Phi[sup] - mu[self.slot[sup]]
        M = self.information(U, w[sup])
        f, C = self.crit.factor(M)
        Y = self.Phi @ C - torch.repeat_interleave(mu @ C, self.sizes, dim=0)
        return State(M, float(f), self.T * (Y * Y).sum(1))


def _top_rows(score: Tensor, offsets: Tensor, k: int) -> Tensor:
    """Indices of the ≤ k rows of largest finite ``score`` (N,) in every slot, sorted."""
    out = []
    for h in range(offsets.numel() - 1):
        seg = score[offsets[h] : offsets[h + 1]]
        top = torch.topk(seg, min(k, seg.numel())).indices
        out.append(top[torch.isfinite(seg[top])] + offsets[h])
    return torch.cat(out).sort().values


def _newton_step(pb: _Problem, idx: Tensor, x: Tensor, M: Tensor) -> tuple[Tensor, float]:
    """One Newton step on the working set ``idx`` (m,) from the weights ``x`` (m,) (carrying all
    the mass; M (d, d) their information). Returns the new weights (m,) and the step length γ
    (0: no ascent found).

    Should the model step fail to ascend (a cycling active-set solve, or the E-criterion's model
    curvature), a pairwise Frank-Wolfe step on the working set is taken instead: in every slot
    the mass of the support row of least gradient moves to the row of largest gradient.
    """
    T, crit = pb.T, pb.crit
    sl = pb.slot[idx]
    U = pb.centred(idx, x)
    _, C = crit.factor(M)
    UC = U @ C
    R = UC @ UC.T  # U G Uᵀ
    if pb.centres is None:  # the Schur complement's per-slot intercepts
        same = (sl[:, None] == sl[None, :]).to(U.dtype) / T
    else:
        same = torch.zeros((), dtype=U.dtype, device=U.device)
    if crit.name == "D":  # G = M⁻¹: Q = R + E/T, ∇²f = −T² Q∘Q
        Q = R + same
        Hneg = (T * T) * Q * Q
    else:  # ∇²f = −2T² Q∘R (exact for A and V, a model for E)
        Minv = C if crit.name == "A" else torch.cholesky_inverse(torch.linalg.cholesky(M))
        Q = (UC if crit.name == "A" else U @ Minv) @ U.T + same
        Hneg = (2 * T * T) * Q * R
    g = T * torch.diagonal(R)
    # A relative 1e-8 Levenberg-Marquardt term makes the model strictly concave: without it, rows
    # with identical features in several slots (the paper's pooled vocabulary) leave flat
    # directions in which the active-set QP cycles and Newton stalls (measured: 40 iterations at
    # a relative gap of 2e-2 instead of 4 iterations to 4e-7).
    diag = torch.diagonal(Hneg)
    Hneg = Hneg + PROX * (
        torch.diag(diag) + 1e-3 * diag.max() * torch.eye(diag.numel(), dtype=Hneg.dtype, device=Hneg.device)
    )
    delta = _qp_step(Hneg.double(), g.double(), x.double(), sl, pb.H).to(x.dtype)
    xn, gamma = _line_step(pb, U, sl, x, M, delta)
    if gamma > 0:
        return xn, gamma
    best = torch.full((pb.H,), -torch.inf, dtype=g.dtype, device=g.device)
    worst = torch.full((pb.H,), torch.inf, dtype=g.dtype, device=g.device)
    best.scatter_reduce_(0, sl, g, "amax")
    worst.scatter_reduce_(0, sl, torch.where(x > 0, g, torch.inf), "amin")
    rows = torch.arange(x.numel(), device=x.device)
    i = torch.full((pb.H,), -1, device=x.device).scatter_reduce_(
        0, sl, torch.where(g == best[sl], rows, -1), "amax"
    )
    j = torch.full((pb.H,), -1, device=x.device).scatter_reduce_(
        0, sl, torch.where((x > 0) & (g == worst[sl]), rows, -1), "amax"
    )
    delta = torch.zeros_like(x)
    delta.index_add_(0, i, x[j]).index_add_(0, j, -x[j])
    return _line_step(pb, U, sl, x, M, delta)


def _line_step(
    pb: _Problem, U: Tensor, sl: Tensor, x: Tensor, M: Tensor, delta: Tensor
) -> tuple[Tensor, float]:
    """Exact line search of the true objective along the feasible step x → x + Δ, γ ∈ [0, 1].

    U (m, d) centred rows at x, sl (m,) their slots, M (d, d) the information at x. Along the
    step M(γ) = M + γ A1 − γ² A2 with A1 = T Uᵀ diag(Δ) U and A2 = T Σ_h δ_h δ_hᵀ,
    δ_h = Σ_{i∈h} Δ_i u_i. Returns the new weights (m,) and γ.
    """
    T = pb.T
    A1 = T * (U * delta[:, None]).T @ U
    if pb.centres is None:
        D = torch.zeros(pb.H, U.shape[1], dtype=U.dtype, device=U.device).index_add_(
            0, sl, U * delta[:, None]
        )
        A2 = T * D.T @ D
    else:  # the linear problem: M is linear along the step
        A2 = torch.zeros_like(A1)
    gamma = exact_line_search(pb.crit, M, 0.5 * (A1 + A1.T), A2, 1.0)
    xn = (x + gamma * delta).clamp_min(0)
    return xn / pb.slot_sums(xn, sl)[sl], gamma


def _qp_step(A: Tensor, g: Tensor, x: Tensor, sl: Tensor, H: int, max_rounds: int = 20) -> Tensor:
    """Maximiser Δ (m,) of the model q(Δ) = gᵀΔ − ½ ΔᵀAΔ subject to x + Δ ≥ 0 and
    Σ_{i∈h} Δ_i = 0 per slot.

    A (m, m) positive semi-definite, g and x ≥ 0 (m,), sl (m,) the slot of each variable (every
    slot holding some mass). Primal-dual active-set method: with the bound set B (x + Δ = 0 there)
    the equality-constrained maximiser comes from one Cholesky factorisation of A's free block;
    free variables that turn negative join B, bound ones with a negative multiplier leave it,
    until B repeats (usually 2–3 rounds). Should the rounds run out (the method may cycle when A
    is far from diagonally dominant), the best of the rounds' points clipped to the simplices is
    returned: always feasible, and an ascent direction whenever q > 0 there.
    """
    m = x.numel()
    E = torch.zeros(H, m, dtype=A.dtype, device=A.device)
    E[sl, torch.arange(m, device=A.device)] = 1.0
    best, best_q = torch.zeros_like(x), 0.0
    bound = x <= 0
    for _ in range(max_rounds):
        F, B = torch.nonzero(~bound).flatten(), torch.nonzero(bound).flatten()
        L = _cholesky(A[F][:, F])
        # free block: A_FF Δ_F = g_F + A_FB x_B + E_Fᵀ ν with E_F Δ_F = E_B x_B
        EF = E[:, F]
        sol = torch.cholesky_solve(torch.cat([(g[F] + A[F][:, B] @ x[B])[:, None], EF.T], 1), L)
        a, KE = sol[:, 0], sol[:, 1:]
        nu = torch.linalg.solve(EF @ KE, E[:, B] @ x[B] - EF @ a)
        delta = -x.clone()
        delta[F] = a + KE @ nu
        mult = A[B] @ delta - g[B] - nu[sl[B]]  # ≥ 0 at the optimum
        new = bound.clone()
        new[F] = x[F] + delta[F] < 0
        new[B] = mult > 0
        if torch.equal(new, bound):
            return delta
        bound = new
        y = (x + delta).clamp_min(0)
        y = y / (E @ y)[sl] - x
        q = float(g @ y - 0.5 * y @ (A @ y))
        if q > best_q:
            best, best_q = y, q
    return best


def _cholesky(K: Tensor) -> Tensor:
    """Lower Cholesky factor of the positive semi-definite K (n, n) plus the smallest jitter
    (relative 1e-14, 1e-10, 1e-6 of its largest diagonal entry) that makes it succeed."""
    scale = float(torch.diagonal(K).max()) + 1e-300
    for jitter in (1e-14, 1e-10, 1e-6):
        L, info = torch.linalg.cholesky_ex(
            K + jitter * scale * torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
        )
        if int(info) == 0:
            return L
    raise DesignError("the Newton system is not positive definite (NaN in the design?)")
