"""What a design solver returns: the design and its optimality certificate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

Tensor = torch.Tensor


@dataclass
class Certificate:
    """Proof of (near-)optimality of a design.

    ``optimality == "global"`` (a concave problem, e.g. the mixture design): f* − objective ≤ gap,
    the Frank-Wolfe duality gap. ``optimality == "stationary"`` (the K-policy design, which is not
    jointly concave): the gap measures stationarity only, and ``upper_bound`` is a separately
    certified bound f* ≤ upper_bound (from a concave relaxation). ``upper_bound`` is
    objective + gap for global certificates. ``relative_gap`` = gap / |objective|; ``converged``
    says whether it reached the tolerance asked for; ``history`` holds one
    ``{iteration, objective, gap, seconds}`` per iteration.
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
    optimality: str = "global"
    upper_bound: float | None = None

    def __post_init__(self):
        if self.upper_bound is None and self.optimality == "global":
            self.upper_bound = self.objective + self.gap

    @property
    def bound_gap(self) -> float | None:
        """upper_bound − objective: how far from the global optimum the design can be at most."""
        return None if self.upper_bound is None else self.upper_bound - self.objective

    def to_dict(self, history: bool = False) -> dict:
        out = asdict(self)
        out["bound_gap"] = self.bound_gap
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

    def state_dict(self) -> dict:
        """Plain tensors and values (for ``torch.save`` / ``torch.load(weights_only=True)``)."""
        return {
            "kind": "mixture",
            "weights": self.weights.detach().cpu(),
            "offsets": self.offsets.detach().cpu(),
            "information": self.information.detach().cpu(),
            "certificate": self.certificate.to_dict(history=True),
            "atoms": {str(k): float(v) for k, v in self.atoms.items()},
        }


@dataclass
class KPolicyDesign(Design):
    """A K-policy design: ``policies`` (K, N), the visitation of each option's policy (rows
    contiguous by step); ``weights`` is their mixture (mean). ``relaxation``: the concave mixture
    design whose certified optimum gives ``certificate.upper_bound``."""

    policies: Tensor | None = None
    relaxation: Design | None = None

    @property
    def k(self) -> int:
        return int(self.policies.shape[0])

    def policy_weights(self, q: int, h: int) -> Tensor:
        """Policy q's distribution (n_h,) over step h's rows."""
        return self.policies[q, self.offsets[h] : self.offsets[h + 1]]

    def state_dict(self) -> dict:
        out = super().state_dict()
        out.update(kind="kpolicy", policies=self.policies.detach().cpu())
        out["relaxation"] = None if self.relaxation is None else self.relaxation.state_dict()
        return out


def design_from_state(state: dict, device: str | torch.device = "cpu") -> Design:
    """The :class:`Design` (or :class:`KPolicyDesign`) that :meth:`Design.state_dict` saved."""
    cert = dict(state["certificate"])
    cert.pop("bound_gap", None)
    common = dict(
        weights=state["weights"].to(device),
        offsets=state["offsets"].to(device),
        information=state["information"].to(device),
        certificate=Certificate(**cert),
        atoms=dict(state.get("atoms") or {}),
    )
    if state.get("kind") == "kpolicy":
        relax = state.get("relaxation")
        return KPolicyDesign(
            **common,
            policies=state["policies"].to(device),
            relaxation=None if relax is None else design_from_state(relax, device),
        )
    return Design(**common)
