"""Named registries: the one place an extension point lists what it offers.

Every extension point (strategies, embedders, export formats, stores, design solvers) keeps one
:class:`Registry`. The command line builds its ``choices`` and help text from it, the web app
lists from it, saved configurations name entries by their registry key, and the docs are
generated from :meth:`Registry.describe`. Adding a strategy, an embedder or a format is therefore
one new module that calls ``register`` — no list anywhere else has to be edited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import EdpbrlError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered item: its key, the object (a class, factory or instance) and a help line."""

    name: str
    obj: T
    help: str


class Registry(Generic[T]):
    """An ordered mapping ``name -> object`` with one-line errors and help text.

    ``kind`` names what is registered ("strategy", "embedder", ...) in error messages.
    Entries keep their registration order, which is the order the CLI and docs show.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, obj: T | None = None, *, help: str = "", replace: bool = False):
        """Register ``obj`` under ``name``; without ``obj`` it is a decorator.

        Raises :class:`EdpbrlError` for an empty or badly formed name, or a name already taken
        (unless ``replace=True``).
        """

        def add(o: T) -> T:
            if not isinstance(name, str) or not name or name != name.strip() or ":" in name:
                raise EdpbrlError(f"{self.kind} name must be a non-empty string without ':', got {name!r}")
            if name in self._entries and not replace:
                raise EdpbrlError(f"{self.kind} '{name}' is already registered")
            doc = help or (getattr(o, "__doc__", None) or "").strip().split("\n")[0]
            self._entries[name] = Entry(name, o, doc)
            return o

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests and plugins that replace a built-in)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The object registered as ``name``; one-line error naming the choices otherwise."""
        try:
            return self._entries[name].obj
        except (KeyError, TypeError):
            raise EdpbrlError(f"unknown {self.kind} {name!r}: expected one of {', '.join(self)}") from None

    def help(self, name: str) -> str:
        self.get(name)
        return self._entries[name].help

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries
        except TypeError:  # unhashable: not a name
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return [(e.name, e.obj) for e in self._entries.values()]

    def describe(self, fmt: Callable[[str, str], str] | None = None) -> str:
        """Help text: one ``name: help`` per entry, joined with "; " (or by ``fmt``)."""
        fmt = fmt or (lambda n, h: f"{n}: {h}" if h else n)
        return "; ".join(fmt(e.name, e.help) for e in self._entries.values())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
