"""The strategy registry: every query strategy by name.

A registered object is a factory ``factory(**options) -> Strategy``. The options are those of
:func:`make_strategy` (``criterion``, ``tol``, ``device``, ``max_iter``, ...); each strategy takes
the ones it uses and ignores the rest, so one option set fits every method. The command line's
``--method`` choices, the app and saved configurations all read :data:`STRATEGIES`.

A method is named by its key, optionally with its own options: ``NAME:key=value,key=value`` (as
encoders are: ``minilm:bf16``), e.g. ``risk-gain-encoded:spread=4``. The options must be
parameters the factory names (a misspelt one is an error, not ignored); values are read as
integers, then numbers, then ``true``/``false``, else kept as text. The whole spec is the
strategy's ``name``, so saved sessions and result tables record the options too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

from ..errors import EdpbrlError
from ..registry import Registry
from .base import Strategy

STRATEGIES: Registry[Callable[..., Strategy]] = Registry("method")


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_method(spec: str) -> tuple[str, dict]:
    """``NAME`` or ``NAME:key=value,...`` → (NAME, {key: value}); one-line error when malformed."""
    if not isinstance(spec, str):
        raise EdpbrlError(f"a method is a name (text), got {type(spec).__name__}")
    name, sep, rest = spec.partition(":")
    options: dict = {}
    if sep:
        for item in rest.split(","):
            key, eq, text = (s.strip() for s in item.partition("="))
            if not eq or not key.isidentifier() or not text:
                raise EdpbrlError(f"method options are key=value separated by commas, got {spec!r}")
            if key in options:
                raise EdpbrlError(f"method option {key!r} is given twice in {spec!r}")
            options[key] = _value(text)
    return name, options


def method_options(name: str) -> list[str]:
    """The options the factory of ``name`` names (its explicit keyword parameters)."""
    params = inspect.signature(STRATEGIES.get(name)).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _checked(spec: str) -> tuple[str, dict]:
    """(NAME, options) of ``spec`` once the name is registered and every option is a parameter
    its factory names; one-line EdpbrlError otherwise."""
    name, given = parse_method(spec)
    allowed = method_options(name)
    unknown = [k for k in given if k not in allowed]
    if unknown:
        takes = f"its options: {', '.join(allowed)}" if allowed else "it takes none"
        raise EdpbrlError(f"method '{name}' has no option {unknown[0]!r} ({takes})")
    return name, given


def _build(spec: str, name: str, options: dict, wrap_errors: bool) -> Strategy:
    """The factory of ``name`` called with ``options``; with ``wrap_errors`` its errors become one
    line naming ``spec`` (a spec's own option values), else they pass through unchanged."""
    factory = STRATEGIES.get(name)
    if wrap_errors:
        try:
            strategy = factory(**options)
        except (EdpbrlError, TypeError, ValueError) as e:
            raise EdpbrlError(f"method {spec!r}: {e}") from None
    else:
        strategy = factory(**options)
    if not isinstance(strategy, Strategy):
        got = type(strategy).__name__
        raise TypeError(f"the factory of method '{name}' returned {got}, not a Strategy")
    return strategy


def check_method(spec: str) -> str:
    """``spec`` if it names a registered method with options its factory takes and accepts (a
    strategy is built with them to check the values: constructors only store and validate);
    one-line EdpbrlError otherwise."""
    name, given = _checked(spec)
    if given:
        _build(spec, name, given, wrap_errors=True)
    return spec


def method_help(spec: str) -> str:
    """The help line of the method ``spec`` names, with its options if any."""
    name, given = parse_method(spec)
    extra = ", ".join(f"{k}={v}" for k, v in given.items())
    return STRATEGIES.help(name) + (f" ({extra})" if extra else "")


class MethodChoices:
    """The ``choices`` of a ``--method`` argument: iterates over the registered names and contains
    every valid spec (:func:`check_method`), options included."""

    def __iter__(self) -> Iterator[str]:
        return iter(STRATEGIES.names())

    def __contains__(self, spec: object) -> bool:
        try:
            check_method(spec)
        except EdpbrlError:
            return False
        return True


def make_strategy(method: str, **options) -> Strategy:
    """The strategy registered as ``method`` (``NAME`` or ``NAME:key=value,...``), built with
    ``options`` and the spec's own; its ``name`` is ``method``."""
    name, given = _checked(method)
    strategy = _build(method, name, {**options, **given}, wrap_errors=bool(given))
    strategy.name = method
    return strategy
