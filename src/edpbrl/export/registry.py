"""The export-format registry, and the two entry points: :func:`build_export` (bytes, for HTTP)
and :func:`export_session` (files, for the command line)."""

from __future__ import annotations

import os
from pathlib import Path

from ..registry import Registry
from ..store import StoreError, open_store
from ..store.base import Store
from .base import Export, ExportError, Format, find_session

FORMATS: Registry[Format] = Registry("export format")


def register_format(name: str, fmt: Format, *, help: str = "") -> Format:
    """Register a :class:`Format` instance under ``name`` (and set its ``name``)."""
    if not isinstance(fmt, Format):
        raise ExportError(f"an export format must be a Format instance, got {type(fmt).__name__}")
    fmt.name = name
    return FORMATS.register(name, fmt, help=help)


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise ExportError(f"unknown export format {name!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS.get(name)


def build_export(store: Store, sid: str, fmt: str, *, personalizer=None) -> Export:
    """The export of session ``sid`` in format ``fmt`` as bytes (``pickapic`` is a zip)."""
    return get_format(fmt).build(store, sid, personalizer=personalizer)


def _open(db: str | os.PathLike, session: str) -> tuple[Store, str]:
    try:
        store = open_store(db, create=False)
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    return store, find_session(store, session)


def export_session(db: str | os.PathLike, session: str, fmt: str, out_path) -> list[Path]:
    """Write an export of a stored session to ``out_path``; returns the files written.

    ``db``: a store path or URL (see :func:`edpbrl.store.open_store`); it must exist.
    ``session``: the session's token or its public id (see :func:`~.base.find_session`).
    """
    f = get_format(fmt)
    store, sid = _open(db, session)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return f.write(store, sid, out)


def export_bytes(db: str | os.PathLike, session: str, fmt: str) -> Export:
    """The export of a stored session in memory (for ``--out -``); arguments as
    :func:`export_session`."""
    f = get_format(fmt)
    store, sid = _open(db, session)
    return f.build(store, sid)
