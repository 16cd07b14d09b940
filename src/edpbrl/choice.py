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
    # (c, B) with (λP)⁻¹ = cI + BBᵀ, B (d, r), when the caller gave them (fit_mle's prior_factors)
    prior_factors: tuple[float, Tensor] | None = None

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


def _cov_apply(factors: tuple[float, Tensor], M: Tensor) -> Tensor:
    """C M for C = cI + BBᵀ (d, d) given as (c, B (d, r)), M (d, m): O(d·r·m), no d × d matrix."""
    c, B = factors
    return c * M + B @ (B.T @ M)


def _inner_factor(A: Tensor, factors: tuple[float, Tensor]) -> tuple[Tensor, Tensor]:
    """(C Aᵀ (d, m), L (m, m)) with LLᵀ = I + A C Aᵀ, for C = cI + BBᵀ and A (m, d): the m-sized
    system of the Woodbury identity (AᵀA + C⁻¹)⁻¹ = C − C Aᵀ (LLᵀ)⁻¹ A C."""
    CAt = _cov_apply(factors, A.T)
    M = A @ CAt
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    return CAt, torch.linalg.cholesky(0.5 * (M + M.T) + eye)


def _woodbury_solve(A: Tensor, factors: tuple[float, Tensor], G: Tensor) -> Tensor:
    """(AᵀA + C⁻¹)⁻¹ G = C G − C Aᵀ (I + A C Aᵀ)⁻¹ A C G for C = cI + BBᵀ; A (m, d), G (d, s)."""
    CAt, L = _inner_factor(A, factors)
    CG = _cov_apply(factors, G)
    return CG - CAt @ torch.cholesky_solve(A @ CG, L)


def _newton_step(
    X: Tensor,
    theta: Tensor,
    grad: Tensor,
    lam: float,
    P: Tensor,
    identity: bool,
    factors: tuple[float, Tensor] | None = None,
) -> Tensor:
    """(Fisher(θ) + λP)⁻¹ ∇. With fewer option rows n·K than dimensions d, by the Woodbury
    identity (an n·K-sized system instead of a d-sized one): on AᵀA + λI for P = I, and on
    AᵀA + C⁻¹ when the prior's covariance C = (λP)⁻¹ = cI + BBᵀ is given as ``factors``."""
    n, K, d = X.shape
    if identity and n * K < d:
        A = _fisher_factor(X, theta)
        M = A @ A.T + lam * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
        return (grad - A.T @ torch.linalg.solve(M, A @ grad)) / lam
    if factors is not None and n * K < d:
        return _woodbury_solve(_fisher_factor(X, theta), factors, grad[:, None])[:, 0]
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
    prior_factors=None,
    theta0=None,
    tol: float = 1e-9,
    max_iter: int = 100,
    device=None,
) -> MLEResult:
    """θ̂ = argmin −Σ log P_θ(y|X) + (λ/2) (θ − m)ᵀ P (θ − m) by Newton's method with Armijo
    backtracking: the MAP estimate under the Gaussian prior N(m, (λP)⁻¹).

    P (d, d) is the prior precision (identity by default), m = ``prior_mean`` (d,) (zero by
    default: the regularised MLE). Without answers θ̂ = m. Converged when ‖∇‖ ≤ tol·max(1, n).
    ``prior_factors`` = (c, B), B (d, r): the prior's covariance in low-rank form,
    (λP)⁻¹ = cI + BBᵀ (as :meth:`~edpbrl.prior.Prior.theta_factors` gives it, with λ = 1). With
    fewer option rows n·K than d the Newton steps, and the result's posterior standard
    deviations, then solve n·K-sized systems instead of d-sized ones (the same estimate);
    factors that do not invert λP are an error.
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
    factors = None if prior_factors is None else _check_factors(prior_factors, lam, P, X.device)
    theta = mean.clone() if theta0 is None else _as_tensor(theta0, device=X.device).clone()
    loss, grad, p = _loss_grad(theta, X, y, lam, P, mean)
    it, converged = 0, False
    thresh = tol * max(1.0, float(n))
    while it < max_iter:
        if float(grad.norm()) <= thresh:
            converged = True
            break
        it += 1
        step = _newton_step(X, theta, grad, lam, P, identity, factors)
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
        prior_factors=factors if low_rank else None,
    )


def _check_factors(factors, lam: float, P: Tensor, device) -> tuple[float, Tensor]:
    """(c, B) as float64 on ``device`` once they are a low-rank covariance (d, r) that inverts λP
    (checked on one random direction: an O(d²) product); one-line EdpbrlError otherwise."""
    try:
        c, B = factors
        c = float(c)
        B = _as_tensor(B, device=device)
    except (TypeError, ValueError) as exc:
        raise EdpbrlError(f"prior_factors must be (c, B) with B (d, r): {exc}") from None
    d = P.shape[0]
    if not (np.isfinite(c) and c > 0) or B.ndim != 2 or B.shape[0] != d or not torch.isfinite(B).all():
        raise EdpbrlError(f"prior_factors must be (c > 0, finite B ({d}, r)), got c={c}, B {tuple(B.shape)}")
    v = torch.randn(d, 1, dtype=B.dtype, device=device, generator=torch.Generator(device).manual_seed(0))
    back = lam * (P.to(B.dtype) @ _cov_apply((c, B), v))
    if float((back - v).norm()) > 1e-6 * float(v.norm()):
        raise EdpbrlError("prior_factors do not match the prior precision: (cI + BBᵀ) λP is not the identity")
    return c, B


@dataclass
class ConfidenceEllipsoid:
    """{θ : (θ − center)ᵀ precision (θ − center) ≤ radius²} from the Fisher at θ̂ (Laplace).

    ``source``: the precision (d, d), or the :class:`MLEResult` whose ``hessian`` it is — then
    formed only when first needed (:meth:`std` on the low-rank paths never needs it)."""

    center: Tensor
    source: Tensor | MLEResult
    radius: float
    factor: Tensor | None = None  # A with precision = AᵀA + lam·I, when known (MLEResult.factor)
    lam: float | None = None
    prior_factors: tuple[float, Tensor] | None = None  # with factor: precision = AᵀA + (cI + BBᵀ)⁻¹

    @property
    def precision(self) -> Tensor:
        """(d, d) the posterior precision (formed from the fit on first use)."""
        if isinstance(self.source, MLEResult):
            self.source = self.source.hessian
        return self.source

    def contains(self, theta) -> bool:
        diff = _as_tensor(theta, device=self.center.device) - self.center
        return float(diff @ self.precision @ diff) <= self.radius**2

    def std(self, directions, terms: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """Posterior standard deviation of θᵀv for each row v of ``directions`` (m, d).

        ``terms``: :func:`prior_terms` of these directions under this ellipsoid's
        ``prior_factors`` — what the prior alone contributes, the same for every fit with that
        prior, so a caller scoring many fits on the same directions computes it once."""
        V = _as_tensor(directions, device=self.center.device)
        A = self.factor
        if A is not None and self.prior_factors is not None:
            # vᵀ(AᵀA + C⁻¹)⁻¹v = vᵀCv − ‖L⁻¹ A C v‖², LLᵀ = I + ACAᵀ: n·K-sized, not d-sized
            if terms is None or terms[0].shape != V.T.shape:
                terms = prior_terms(self.prior_factors, V)
            CVt, vCv = terms
            _, Lm = _inner_factor(A, self.prior_factors)
            Z = torch.linalg.solve_triangular(Lm, A @ CVt, upper=False)
            return (vCv - (Z * Z).sum(0)).clamp_min(0).sqrt()
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


def prior_terms(factors: tuple[float, Tensor], directions) -> tuple[Tensor, Tensor]:
    """(C Vᵀ (d, m), vᵀCv (m,)) for the rows v of ``directions`` V (m, d) and the prior covariance
    C = cI + BBᵀ given as ``factors`` = (c, B): the part of :meth:`ConfidenceEllipsoid.std` that
    depends on the prior and the directions only."""
    c, B = factors
    B = _as_tensor(B)
    V = _as_tensor(directions, device=B.device)
    CVt = _cov_apply((float(c), B), V.T)
    return CVt, (V.T * CVt).sum(0)


def confidence_ellipsoid(result: MLEResult, level: float = 0.95) -> ConfidenceEllipsoid:
    """Asymptotic confidence ellipsoid at ``level`` from the penalised Hessian at θ̂."""
    from scipy.stats import chi2

    if not 0 < level < 1:
        raise EdpbrlError(f"level must be in (0, 1), got {level}")
    d = result.theta.numel()
    radius = float(np.sqrt(chi2.ppf(level, d)))
    if result.prior is not None:  # the Woodbury paths: precision AᵀA + λI, or AᵀA + C⁻¹ given C
        if result.prior_factors is not None:
            return ConfidenceEllipsoid(
                result.theta, result, radius, result.factor, prior_factors=result.prior_factors
            )
        return ConfidenceEllipsoid(result.theta, result, radius)
    return ConfidenceEllipsoid(result.theta, result, radius, result.factor, result.lam)
