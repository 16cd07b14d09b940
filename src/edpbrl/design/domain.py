"""The contract between the design solvers and whatever the queries are built on.

A design domain is the visitation polytope of a finite-horizon MDP, seen through its rows: one row
per (step, state, action), rows contiguous by step. The solvers need nothing else, so the maths
layer never imports the MDP classes; :class:`edpbrl.mdp.PromptMDP` and
:class:`edpbrl.mdp.TabularMDP` satisfy this protocol.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from ..errors import DesignError

Tensor = torch.Tensor


@runtime_checkable
class DesignDomain(Protocol):
    """Rows of a visitation polytope.

    Attributes:
        features: (N, d) the feature φ of every row.
        offsets: (H+1,) rows of step h are ``offsets[h]:offsets[h+1]``.
        product_of_simplices: True when the polytope is a product of one simplex per step (the
            prompt MDP: the state is the step), which the fast solvers require.
    """

    features: Tensor
    offsets: Tensor
    product_of_simplices: bool

    def uniform(self) -> Tensor:
        """(N,) visitation of the uniformly random policy (a feasible starting point)."""
        ...

    def best_response(self, reward: Tensor) -> tuple[object, Tensor]:
        """The linear oracle: (vertex id, visitation (N,)) maximising ⟨reward, d⟩."""
        ...


def check_domain(domain) -> None:
    """One-line :class:`DesignError` unless ``domain`` satisfies :class:`DesignDomain`."""
    if not isinstance(domain, DesignDomain):
        missing = [
            a
            for a in ("features", "offsets", "product_of_simplices", "uniform", "best_response")
            if not hasattr(domain, a)
        ]
        raise DesignError(f"{type(domain).__name__} is not a design domain (missing: {', '.join(missing)})")
    F, off = domain.features, domain.offsets
    if F.ndim != 2:
        raise DesignError(f"domain features must be (N, d), got shape {tuple(F.shape)}")
    if off.ndim != 1 or off.numel() < 2 or int(off[0]) != 0 or int(off[-1]) != F.shape[0]:
        raise DesignError("domain offsets must run from 0 to the number of rows N")
