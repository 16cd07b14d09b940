"""Multinomial-logit (Plackett–Luce first choice) preference model and its regularised MLE.

Shapes: X (n, K, d) — option features of n queries with K options each; y (n,) — index of the
chosen option; θ (d,). P(y = k) = softmax_k(θᵀ x_k). K = 2 is Bradley–Terry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .design.information import query_fisher
from .errors import EdpbrlError

Tensor = torch.Tensor


def _as_tensor(a, dtype=torch.float64, device=None) -> Tensor:
    if isinstance(a, Tensor):
        return a.to(dtype=dtype, device=device if device is not None else a.device)
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def validate_queries(X, y=None, dim: int | None = None) -> tuple[Tensor, Tensor | None]:
    """Check shapes and values; returns (X (n, K, d) float64, y (n,) long or None)."""
    try:
        X = _as_tensor(X)
    except (TypeError, ValueError, RuntimeError):
        raise EdpbrlError("query features must be an (n, K, d) array of numbers") from None
    if X.ndim != 3:
        raise EdpbrlError(f"query features must have shape (n, K, d), got {tuple(X.shape)}")
    n, K, d = X.shape
    if K < 2:
        raise EdpbrlError(f"each query needs at least 2 options, got K={K}")
    if dim is not None and d != dim:
        raise EdpbrlError(f"query features have dimension {d}, expected {dim}")
    if not torch.isfinite(X).all():
        raise EdpbrlError("query features contain NaN or infinite values")
    if y is None:
        return X, None
    try:
        y = torch.as_tensor(np.asarray(y), device=X.device)
    except (TypeError, ValueError, RuntimeError):
        raise EdpbrlError(f"choices must be {n} integers") from None
    if y.dtype == torch.bool or y.is_complex():
        raise EdpbrlError("choices must be integers")
    if y.shape != (n,):
        raise EdpbrlError(f"choices must have shape ({n},), got {tuple(y.shape)}")
    if y.dtype.is_floating_point and not torch.equal(y, y.round()):
        raise EdpbrlError("choices must be integers")
    y = y.long()
    if n and (int(y.min()) < 0 or int(y.max()) >= K):
        raise EdpbrlError(f"choices must lie in range({K}), got values in [{int(y.min())}, {int(y.max())}]")
    return X, y


def probabilities(theta, X) -> Tensor:
    """Choice probabilities (n, K)."""
    X = _as_tensor(X)
    return torch.softmax(X @ _as_tensor(theta, device=X.device), dim=-1)


def log_likelihood(theta, X, y) -> Tensor:
    """Σ_q log P_θ(y_q | x_q1..x_qK) (scalar)."""
    if y is None:
        raise EdpbrlError("choices y are missing: give one chosen option index per query")
    X, y = validate_queries(X, y)
    logp = torch.log_softmax(X @ _as_tensor(theta, device=X.device), dim=-1)
    return logp.gather(1, y[:, None]).sum()


def fisher_information(theta, X) -> Tensor:
    """Σ_q [Σ_k p_k x_k x_kᵀ − x̄ x̄ᵀ] at θ; (d, d). θ = None gives the θ-agnostic p = 1/K."""
    X = _as_tensor(X)
    return query_fisher(X, None if theta is None else _as_tensor(theta, device=X.device))


@dataclass
class MLEResult:
    """Regularised MLE: θ̂ (d,), the penalised loss, gradient norm at θ̂, Newton iterations."""

    theta: Tensor
    loss: float
    grad_norm: float
    iterations: int
    converged: bool
    # the posterior precision: kept dense, or (n·K < d) as A (n·K, d), λ and the prior precision P
    # with precision AᵀA + λP (P = None: the identity) — P is the caller's tensor, not a copy, so a
    # server holding many sessions' fits keeps one P and (n·K)·d numbers per fit instead of d²
    dense: Tensor | None = None
    factor: Tensor | None = None
    lam: float | None = None
    prior: Tensor | None = None

    @property
    def hessian(self) -> Tensor:
        """(d, d): Fisher at θ̂ + λP — the posterior precision of the Laplace approximation
        (computed from the factor on each access when it is kept low-rank)."""
        if self.dense is not None:
            return self.dense
        A = self.factor
        if self.prior is not None:
            H = A.T @ A + self.lam * self.prior
            return 0.5 * (H + H.T)
        return A.T @ A + self.lam * torch.eye(A.shape[1], dtype=A.dtype, device=A.device)

    def covariance(self) -> Tensor:
        return torch.linalg.inv(self.hessian)


def _loss_grad(theta, X, y, lam, P, mean):
    u = X @ theta
    logp = torch.log_softmax(u, dim=1)
    p = logp.exp()
    r = theta - mean
    loss = -logp.gather(1, y[:, None]).sum() + 0.5 * lam * r @ (P @ r)
    xbar = torch.einsum("nk,nkd->nd", p, X)
    xy = X[torch.arange(X.shape[0], device=X.device), y]
    grad = (xbar - xy).sum(0) + lam * (P @ r)
    return loss, grad, p


def _fisher_factor(X: Tensor, theta: Tensor) -> Tensor:
    """A (n·K, d) with AᵀA = the MNL Fisher at θ: rows √p_k (x_k − x̄) of every query."""
    p = torch.softmax(X @ theta, dim=1)
    xbar = torch.einsum("nk,nkd->nd", p, X)
    return (p.sqrt()[..., None] * (X - xbar[:, None, :])).reshape(-1, X.shape[-1])


def _newton_step(X: Tensor, theta: Tensor, grad: Tensor, lam: float, P: Tensor, identity: bool) -> Tensor:
    """(Fisher(θ) + λP)⁻¹ ∇. With P = I and fewer option rows n·K than dimensions d, by the
    Woodbury identity on AᵀA + λI (an n·K-sized system instead of a d-sized one)."""
    n, K, d = X.shape
    if identity and n * K < d:
        A = _fisher_factor(X, theta)
        M = A @ A.T + lam * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
        return (grad - A.T @ torch.linalg.solve(M, A @ grad)) / lam
    Hs = query_fisher(X, theta) + lam * P
    return torch.linalg.solve(0.5 * (Hs + Hs.T), grad)


_ROUNDING = 1e-12  # relative size of a loss decrease that float64 evaluation of the loss cannot resolve


def fit_mle(
    X,
    y,
    lam: float = 1.0,
    *,
    prior=None,
    prior_mean=None,
    theta0=None,
    tol: float = 1e-9,
    max_iter: int = 100,
    device=None,
) -> MLEResult:
    """θ̂ = argmin −Σ log P_θ(y|X) + (λ/2) (θ − m)ᵀ P (θ − m) by Newton's method with Armijo
    backtracking: the MAP estimate under the Gaussian prior N(m, (λP)⁻¹).

    P (d, d) is the prior precision (identity by default), m = ``prior_mean`` (d,) (zero by
    default: the regularised MLE). Without answers θ̂ = m. Converged when ‖∇‖ ≤ tol·max(1, n).
    """
    if not (isinstance(lam, int | float) and lam > 0):
        raise EdpbrlError(f"λ must be > 0, got {lam}")
    if y is None:
        raise EdpbrlError("choices y are missing: give one chosen option index per query")
    X, y = validate_queries(X, y)
    if device is not None:
        X, y = X.to(device), y.to(device)
    n, K, d = X.shape
    identity = prior is None
    P = torch.eye(d, dtype=X.dtype, device=X.device) if prior is None else _as_tensor(prior, device=X.device)
    if P.shape != (d, d):
        raise EdpbrlError(f"prior precision must be ({d}, {d}), got {tuple(P.shape)}")
    mean = torch.zeros(d, dtype=X.dtype, device=X.device)
    if prior_mean is not None:
        mean = _as_tensor(prior_mean, device=X.device)
        if mean.shape != (d,) or not torch.isfinite(mean).all():
            raise EdpbrlError(f"prior mean must be a finite vector ({d},), got shape {tuple(mean.shape)}")
    theta = mean.clone() if theta0 is None else _as_tensor(theta0, device=X.device).clone()
    loss, grad, p = _loss_grad(theta, X, y, lam, P, mean)
    it, converged = 0, False
    thresh = tol * max(1.0, float(n))
    while it < max_iter:
        if float(grad.norm()) <= thresh:
            converged = True
            break
        it += 1
        step = _newton_step(X, theta, grad, lam, P, identity)
        slope = float(grad @ step)  # the squared Newton decrement: the predicted decrease is slope/2
        # Below the loss's rounding error Armijo's test cannot tell a better point from a worse one
        # (it used to halve the step 40 times, then stop short of tol): there a Newton step is
        # taken when it lowers the gradient, and otherwise the fit is as good as float64 allows.
        at_rounding = slope <= _ROUNDING * max(1.0, abs(float(loss)))
        t = 1.0
        while True:
            new = theta - t * step
            nl, ng, npr = _loss_grad(new, X, y, lam, P, mean)
            if float(nl) <= float(loss) - 1e-4 * t * slope:
                break
            if at_rounding:
                if float(ng.norm()) >= float(grad.norm()):
                    t = 0.0
                break
            if t < 1e-12:
                t = 0.0
                break
            t *= 0.5
        if t == 0.0:
            break
        theta, loss, grad = new, nl, ng
    if not converged and float(grad.norm()) <= thresh:
        converged = True
    low_rank = n * K < d
    if low_rank:
        dense = None
    else:
        H = query_fisher(X, theta) + lam * P
        dense = 0.5 * (H + H.T)
    return MLEResult(
        theta=theta,
        loss=float(loss),
        grad_norm=float(grad.norm()),
        iterations=it,
        converged=converged,
        dense=dense,
        factor=_fisher_factor(X, theta) if low_rank else None,
        lam=float(lam) if low_rank else None,
        prior=P if low_rank and not identity else None,
    )


@dataclass
class ConfidenceEllipsoid:
    """{θ : (θ − center)ᵀ precision (θ − center) ≤ radius²} from the Fisher at θ̂ (Laplace)."""

    center: Tensor
    precision: Tensor
    radius: float
    factor: Tensor | None = None  # A with precision = AᵀA + lam·I, when known (MLEResult.factor)
    lam: float | None = None

    def contains(self, theta) -> bool:
        diff = _as_tensor(theta, device=self.center.device) - self.center
        return float(diff @ self.precision @ diff) <= self.radius**2

    def std(self, directions) -> Tensor:
        """Posterior standard deviation of θᵀv for each row v of ``directions`` (m, d)."""
        V = _as_tensor(directions, device=self.center.device)
        A = self.factor
        if A is not None and self.lam and A.shape[0] < A.shape[1]:
            # (AᵀA + λI)⁻¹ = (I − Aᵀ(λI + AAᵀ)⁻¹A)/λ: an n·K-sized factorisation, not a d-sized one
            M = A @ A.T + self.lam * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
            Lm, info = torch.linalg.cholesky_ex(M)
            if int(info) == 0:
                Z = torch.linalg.solve_triangular(Lm, A @ V.T, upper=False)
                var = ((V * V).sum(1) - (Z * Z).sum(0)) / self.lam
                return var.clamp_min(0).sqrt()
        L, info = torch.linalg.cholesky_ex(self.precision)
        if int(info) == 0:  # vᵀP⁻¹v = ‖L⁻¹v‖² (half the work of a general solve)
            Z = torch.linalg.solve_triangular(L, V.T, upper=False)
            return (Z * Z).sum(0).clamp_min(0).sqrt()
        sol = torch.linalg.solve(self.precision, V.T)
        return (V.T * sol).sum(0).clamp_min(0).sqrt()


def confidence_ellipsoid(result: MLEResult, level: float = 0.95) -> ConfidenceEllipsoid:
    """Asymptotic confidence ellipsoid at ``level`` from the penalised Hessian at θ̂."""
    from scipy.stats import chi2

    if not 0 < level < 1:
        raise EdpbrlError(f"level must be in (0, 1), got {level}")
    d = result.theta.numel()
    radius = float(np.sqrt(chi2.ppf(level, d)))
    if result.prior is not None:  # the Woodbury path below assumes precision AᵀA + λI
        return ConfidenceEllipsoid(result.theta, result.hessian, radius)
    return ConfidenceEllipsoid(result.theta, result.hessian, radius, result.factor, result.lam)
