"""The solver table and :func:`solve_design`, the one entry point for solving a design.

Each algorithm lives in its own module and returns a :class:`~edpbrl.design.result.Design` with
its :class:`~edpbrl.design.result.Certificate`:

* ``simplex`` (:mod:`.simplex`) — active-set Newton on a product of simplices (the prompt MDP);
  the default there.
* ``multiplicative`` (:mod:`.multiplicative`) — multiplicative weights with exact line search and
  pairwise steps, on a product of simplices.
* ``frank-wolfe`` (:mod:`.frank_wolfe`) — any MDP, with the planning oracle; the default for
  general MDPs.

Dispatch reads the domain's ``product_of_simplices`` flag (see :mod:`.domain`); the maths layer
never imports the MDP classes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

from ..device import check_device
from ..errors import DesignError
from ..registry import Registry
from .domain import check_domain
from .frank_wolfe import frank_wolfe
from .multiplicative import multiplicative
from .result import Certificate, Design
from .simplex import simplex_design

__all__ = ["SOLVERS", "Certificate", "Design", "Solver", "frank_wolfe", "multiplicative", "solve_design"]


@dataclass(frozen=True)
class Solver:
    """A design algorithm: ``fn(domain, *, criterion, episodes, lam, **options) -> Design``;
    ``simplices_only``: it needs a domain whose polytope is a product of simplices."""

    fn: Callable[..., Design]
    simplices_only: bool


SOLVERS: Registry[Solver] = Registry("solver")
SOLVERS.register(
    "simplex",
    Solver(simplex_design, True),
    help="active-set Newton on a product of simplices (the prompt MDP's default)",
)
SOLVERS.register(
    "multiplicative",
    Solver(multiplicative, True),
    help="multiplicative weights with exact line search and pairwise steps (product of simplices)",
)
SOLVERS.register(
    "frank-wolfe",
    Solver(frank_wolfe, False),
    help="away/pairwise Frank-Wolfe with the planning oracle (any MDP; the default there)",
)


def solver_choices() -> list[str]:
    """``auto`` and every registered solver (for command-line choices)."""
    return ["auto", *SOLVERS]


def solve_design(
    domain, *, criterion: str = "A", episodes: float = 50, lam: float = 0.1, solver: str = "auto", **kwargs
) -> Design:
    """Solve the ED-PBRL design on ``domain`` (a :class:`~edpbrl.design.domain.DesignDomain`).

    solver: "auto" (``simplex`` on a product of simplices, ``frank-wolfe`` otherwise) or a name
    in :data:`SOLVERS`. Other keyword arguments go to the solver (tol, max_iter, device, dtype,
    prior, V, extra, verbose, progress, and variant for Frank-Wolfe).
    """
    check_domain(domain)
    if "device" in kwargs:
        kwargs["device"] = check_device(kwargs["device"])
    tol = kwargs.get("tol")
    if tol is not None and not (isinstance(tol, numbers.Real) and math.isfinite(tol) and tol > 0):
        raise DesignError(f"tol must be a number > 0 (a relative FW gap, e.g. 1e-4), got {tol!r}")
    max_iter = kwargs.get("max_iter")
    if max_iter is not None and not (isinstance(max_iter, numbers.Integral) and max_iter >= 1):
        raise DesignError(f"max_iter must be a positive integer, got {max_iter!r}")
    if solver == "auto":
        solver = "simplex" if domain.product_of_simplices else "frank-wolfe"
    if solver not in SOLVERS:
        raise DesignError(f"unknown solver '{solver}': expected one of {', '.join(solver_choices())}")
    spec = SOLVERS.get(solver)
    if spec.simplices_only and not domain.product_of_simplices:
        raise DesignError(f"the {solver} solver needs a product of simplices (a PromptMDP)")
    return spec.fn(domain, criterion=criterion, episodes=episodes, lam=lam, **kwargs)
