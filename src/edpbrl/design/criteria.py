"""Design criteria f(M) to maximise, with their matrix gradients ∂f/∂M.

Every criterion is concave and monotone on positive-definite matrices:

* ``A``: f = −tr(M⁻¹), ∂f/∂M = M⁻²
* ``D``: f = log det M, ∂f/∂M = M⁻¹
* ``V``: f = −tr(V M⁻¹), ∂f/∂M = M⁻¹ V M⁻¹ (V ⪰ 0, the paper's main choice)
* ``E``: f = −(1/t) log Σ_i exp(−t λ_i(M)), a smooth lower bound on λ_min within log(d)/t;
  ∂f/∂M = U softmax(−t λ) Uᵀ. The temperature t is fixed per problem (see :func:`make_criterion`).

``value_and_grad(M)`` returns ``(f, G)`` with G (d, d) symmetric; ``factor(M)`` returns C with
G = C Cᵀ where one exists cheaply (A: C = M⁻¹, D: C = L⁻ᵀ, V: C = M⁻¹ V^{1/2}), which lets
solvers compute the per-row gradients φᵀGφ as squared norms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import DesignError, short_repr

Tensor = torch.Tensor
CRITERIA = ("A", "D", "V", "E")
# What each criterion makes small, in plain words (the demo and help texts say this).
AIMS = {
    "A": "the average uncertainty of the taste estimate",
    "D": "the volume of the set of tastes that still fit the answers",
    "V": "the average uncertainty of the scores of the vocabulary's words",
    "E": "the uncertainty in the least-explored direction of taste",
}


def _chol_inverse(M: Tensor) -> Tensor:
    L, info = torch.linalg.cholesky_ex(M)
    if int(info) != 0:
        raise DesignError("information matrix is not positive definite (λ too small or NaN features)")
    Linv = torch.linalg.solve_triangular(
        L, torch.eye(M.shape[0], dtype=M.dtype, device=M.device), upper=False
    )
    return Linv.T @ Linv, Linv


@dataclass(frozen=True)
class Criterion:
    """A scalarisation f of the information matrix (see module docstring)."""

    name: str
    V: Tensor | None = None
    V_root: Tensor | None = None  # R with V = R Rᵀ, (d, r)
    temperature: float = 0.0

    def value(self, M: Tensor) -> Tensor:
        return self.value_and_grad(M, grad=False)[0]

    def value_and_grad(self, M: Tensor, grad: bool = True) -> tuple[Tensor, Tensor | None]:
        """(f(M), ∂f/∂M); M (d, d) symmetric positive definite."""
        if self.name == "E":
            lam, U = torch.linalg.eigh(M)
            t = self.temperature
            f = -torch.logsumexp(-t * lam, 0) / t
            if not grad:
                return f, None
            p = torch.softmax(-t * lam, 0)
            return f, (U * p) @ U.T
        Minv, Linv = _chol_inverse(M)
        if self.name == "D":
            f = 2.0 * torch.log(torch.diagonal(Linv)).neg().sum()
            return f, (Minv if grad else None)
        if self.name == "A":
            return -torch.trace(Minv), (Minv @ Minv if grad else None)
        # V
        f = -torch.sum(self.V * Minv)
        if not grad:
            return f, None
        G = Minv @ self.V @ Minv
        return f, 0.5 * (G + G.T)

    def factor(self, M: Tensor) -> tuple[Tensor, Tensor]:
        """(f(M), C) with ∂f/∂M = C Cᵀ; C (d, r)."""
        if self.name == "E":
            f, G = self.value_and_grad(M)
            lam, U = torch.linalg.eigh(G)
            return f, U * lam.clamp_min(0).sqrt()
        Minv, Linv = _chol_inverse(M)
        if self.name == "A":
            return -torch.trace(Minv), Minv
        if self.name == "D":
            return 2.0 * torch.log(torch.diagonal(Linv)).neg().sum(), Linv.T
        f = -torch.sum(self.V * Minv)
        return f, Minv @ self.V_root


def check_criterion(name) -> str:
    """The criterion key ("A", "D", "V" or "E") that ``name`` names (case-insensitive); a
    :class:`DesignError` naming it for anything else (also for non-strings)."""
    key = name.upper() if isinstance(name, str) else None
    if key not in CRITERIA:
        shown = f"'{name}'" if isinstance(name, str) else short_repr(name)
        raise DesignError(f"unknown criterion {shown}: expected one of {', '.join(CRITERIA)}")
    return key


def make_criterion(
    name: str, *, V: Tensor | None = None, dim: int | None = None, scale: float = 1.0
) -> Criterion:
    """Build a criterion by name ("A", "D", "V", "E"; case-insensitive).

    V is required for "V" (d, d, positive semi-definite). For "E", ``scale`` is the typical
    eigenvalue size (e.g. λ) and the temperature is t = 20 log(d) / scale, so the smoothing bias
    log(d)/t is 5% of ``scale``.
    """
    key = check_criterion(name)
    if key == "V":
        if V is None:
            raise DesignError("criterion 'V' needs a matrix V (d, d)")
        if V.ndim != 2 or V.shape[0] != V.shape[1]:
            raise DesignError(f"V must be square (d, d), got shape {tuple(V.shape)}")
        if not torch.isfinite(V).all():
            raise DesignError("V contains NaN or infinite values")
        V = 0.5 * (V + V.T)
        lam, U = torch.linalg.eigh(V)
        if float(lam.min()) < -1e-8 * max(float(lam.abs().max()), 1.0):
            raise DesignError("V must be positive semi-definite")
        return Criterion("V", V=V, V_root=U * lam.clamp_min(0).sqrt())
    if key == "E":
        d = dim or 2
        return Criterion("E", temperature=20.0 * math.log(max(d, 2)) / max(scale, 1e-12))
    return Criterion(key)


def interchange_matrix(Phi: Tensor, offsets: Tensor) -> Tensor:
    """The V of V-design: Σ_h mean over token pairs (i, j) of slot h of (φ_i − φ_j)(φ_i − φ_j)ᵀ.

    Equals 2 Σ_h Cov_h (uniform covariance of each slot's features); (d, d).
    """
    d = Phi.shape[1]
    V = torch.zeros(d, d, dtype=Phi.dtype, device=Phi.device)
    for h in range(offsets.numel() - 1):
        X = Phi[offsets[h] : offsets[h + 1]]
        Xc = X - X.mean(0)
        V += 2.0 * (Xc.T @ Xc) / max(X.shape[0], 1)
    return V
