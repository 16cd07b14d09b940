"""What a design solver returns: the design and its optimality certificate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

Tensor = torch.Tensor


@dataclass
class Certificate:
    """Proof of (near-)optimality of a design: f* − objective ≤ gap (the Frank-Wolfe duality gap).

    ``relative_gap`` = gap / |objective|; ``converged`` says whether it reached the tolerance
    asked for; ``history`` holds one ``{iteration, objective, gap, seconds}`` per iteration.
    """

    criterion: str
    objective: float
    gap: float
    relative_gap: float
    iterations: int
    seconds: float
    converged: bool
    solver: str
    episodes: float
    lam: float
    history: list[dict] = field(default_factory=list)

    def to_dict(self, history: bool = False) -> dict:
        out = asdict(self)
        if not history:
            out.pop("history")
        return out


@dataclass
class Design:
    """A solved design: mixture visitation ``weights`` (N,), rows contiguous by step (``offsets``
    (H+1,)), the surrogate information matrix (d, d), the certificate, and for Frank-Wolfe the atoms
    (vertex id → weight) whose convex combination the weights are."""

    weights: Tensor
    offsets: Tensor
    information: Tensor
    certificate: Certificate
    atoms: dict = field(default_factory=dict)

    def step_weights(self, h: int) -> Tensor:
        """The weights (n_h,) of step h."""
        return self.weights[self.offsets[h] : self.offsets[h + 1]]
