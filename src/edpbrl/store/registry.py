"""Store backends by URL scheme, and :func:`open_store`.

A backend registers ``opener(url: str, *, create: bool) -> Store`` under its scheme(s) in
:data:`STORES`. A plain path (no ``scheme://``) opens the ``sqlite`` backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..registry import Registry
from .base import Store, StoreError

STORES: Registry[Callable[..., Store]] = Registry("store")


def scheme_of(url: str) -> str:
    """``"sqlite"`` for a plain path, else the part before ``://``, lower-cased."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep else "sqlite"


def open_store(url: str | os.PathLike, *, create: bool = True) -> Store:
    """Open the store at ``url``: a file path or ``sqlite:///PATH`` (SQLite),
    ``postgresql://...`` (PostgreSQL), or any scheme a registered backend serves.
    ``create=False``: StoreError when it does not exist yet (for readers such as ``edpbrl export``)."""
    if not isinstance(url, str | os.PathLike):
        raise StoreError(f"a store URL is a string or a path, not {type(url).__name__}")
    text = str(url)
    scheme = scheme_of(text)
    if scheme not in STORES:
        raise StoreError(
            f"unsupported store URL {text!r}: expected a file path or one of "
            f"{', '.join(s + '://' for s in STORES)}"
        )
    return STORES.get(scheme)(text, create=create)
