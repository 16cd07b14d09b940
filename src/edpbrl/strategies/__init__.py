"""Query strategies: one contract (:mod:`.base`), one registry (:mod:`.registry`), one module each.

Built-ins, in the order they are listed: ``random`` (:mod:`.random`); ``ed-pbrl`` and
``ed-pbrl-policies-rounded`` (:mod:`.kpolicy`, the paper's K-policy design); ``ed-pbrl-mixture``,
``ed-pbrl-wor``, ``ed-pbrl-rounded`` (:mod:`.design`); ``ed-pbrl-adaptive`` (:mod:`.adaptive`);
``ed-pbrl-greedy`` (:mod:`.greedy`); ``dopt-pool`` (:mod:`.pool`); ``info-gain``, ``score-gain``
and ``score-gain-encoded`` (:mod:`.info_gain`); ``risk-gain-encoded`` (:mod:`.risk`). A new
strategy is one module that subclasses :class:`Strategy` and calls ``STRATEGIES.register`` — see
``docs/extending.md``.
"""

# isort: off
# The built-ins register in this order, which is the order help text lists them.
from . import random, kpolicy, design, adaptive, greedy, pool, info_gain, risk  # noqa: F401

# isort: on
from .adaptive import AdaptiveDesignStrategy
from .base import Strategy, StrategyContext, check_plan, to_tensor
from .design import DesignStrategy, clear_design_cache
from .greedy import GreedyDesignStrategy
from .info_gain import InfoGainStrategy
from .kpolicy import KPolicyStrategy
from .pool import DOptPoolStrategy
from .random import RandomStrategy
from .registry import STRATEGIES, make_strategy
from .risk import RiskGainStrategy

__all__ = [
    "STRATEGIES",
    "AdaptiveDesignStrategy",
    "DOptPoolStrategy",
    "DesignStrategy",
    "GreedyDesignStrategy",
    "InfoGainStrategy",
    "KPolicyStrategy",
    "RandomStrategy",
    "RiskGainStrategy",
    "Strategy",
    "StrategyContext",
    "check_plan",
    "clear_design_cache",
    "make_strategy",
    "to_tensor",
]
