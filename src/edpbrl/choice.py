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
    X = _as_tensor(X)
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
    y = torch.as_tensor(np.asarray(y), device=X.device)
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
    hessian: Tensor  # (d, d): Fisher at θ̂ + λP — the posterior precision of the Laplace approx.

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
    X, y = validate_queries(X, y)
    if device is not None:
        X, y = X.to(device), y.to(device)
    n, K, d = X.shape
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
        Hs = query_fisher(X, theta) + lam * P
        step = torch.linalg.solve(0.5 * (Hs + Hs.T), grad)
        slope = float(grad @ step)
        t = 1.0
        while True:
            new = theta - t * step
            nl, ng, npr = _loss_grad(new, X, y, lam, P, mean)
            if float(nl) <= float(loss) - 1e-4 * t * slope or t < 1e-12:
                break
            t *= 0.5
        if t < 1e-12:
            break
        theta, loss, grad = new, nl, ng
    if not converged and float(grad.norm()) <= thresh:
        converged = True
    H = query_fisher(X, theta) + lam * P
    return MLEResult(
        theta=theta,
        loss=float(loss),
        grad_norm=float(grad.norm()),
        iterations=it,
        converged=converged,
        hessian=0.5 * (H + H.T),
    )


@dataclass
class ConfidenceEllipsoid:
    """{θ : (θ − center)ᵀ precision (θ − center) ≤ radius²} from the Fisher at θ̂ (Laplace)."""

    center: Tensor
    precision: Tensor
    radius: float

    def contains(self, theta) -> bool:
        diff = _as_tensor(theta, device=self.center.device) - self.center
        return float(diff @ self.precision @ diff) <= self.radius**2

    def std(self, directions) -> Tensor:
        """Posterior standard deviation of θᵀv for each row v of ``directions`` (m, d)."""
        V = _as_tensor(directions, device=self.center.device)
        sol = torch.linalg.solve(self.precision, V.T)
        return (V.T * sol).sum(0).clamp_min(0).sqrt()


def confidence_ellipsoid(result: MLEResult, level: float = 0.95) -> ConfidenceEllipsoid:
    """Asymptotic confidence ellipsoid at ``level`` from the penalised Hessian at θ̂."""
    from scipy.stats import chi2

    if not 0 < level < 1:
        raise EdpbrlError(f"level must be in (0, 1), got {level}")
    d = result.theta.numel()
    return ConfidenceEllipsoid(result.theta, result.hessian, float(np.sqrt(chi2.ppf(level, d))))
