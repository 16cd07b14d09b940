"""The strategy registry: every query strategy by name.

A registered object is a factory ``factory(**options) -> Strategy``. The options are those of
:func:`make_strategy` (``criterion``, ``tol``, ``device``, ``max_iter``, ...); each strategy takes
the ones it uses and ignores the rest, so one option set fits every method. The command line's
``--method`` choices, the app and saved configurations all read :data:`STRATEGIES`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..registry import Registry
from .base import Strategy

STRATEGIES: Registry[Callable[..., Strategy]] = Registry("method")


def make_strategy(method: str, **options) -> Strategy:
    """The strategy registered as ``method``, built with ``options``; its ``name`` is ``method``."""
    strategy = STRATEGIES.get(method)(**options)
    if not isinstance(strategy, Strategy):
        got = type(strategy).__name__
        raise TypeError(f"the factory of method '{method}' returned {got}, not a Strategy")
    strategy.name = method
    return strategy
