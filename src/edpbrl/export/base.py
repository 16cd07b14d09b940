"""The export contract: a format turns one stored session into files.

A :class:`Format` reads the session through the :class:`~edpbrl.store.base.Store` protocol (never
the app's internals) and returns an :class:`Export` — the main file's bytes plus any extra files —
for HTTP downloads; :meth:`Format.write` puts it on disk for the command line. Formats register in
:data:`edpbrl.export.registry.FORMATS`; the CLI's ``--format`` choices, the app's download links
and the docs list that registry.

Session tokens are credentials, so exports name a session by :func:`public_id`, a one-way hash of
its token.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EdpbrlError
from ..store.base import SessionRow, Store


class ExportError(EdpbrlError):
    """An export was asked for an unknown session or format, or cannot be written."""


@dataclass
class Export:
    """An export in memory: a main file, optional extra files (name → bytes or source path)."""

    filename: str
    media_type: str
    data: bytes
    extra: dict[str, bytes | Path] = field(default_factory=dict)


class Format(ABC):
    """One export format (see the module docstring).

    Attributes:
        name: its registry key (set on registration).
        needs_model: True when it needs the session's fitted model (θ̂): the caller may pass its
            live :class:`~edpbrl.personalizer.Personalizer`; otherwise it is rebuilt from the
            store with :func:`edpbrl.replay.restore`.
        from_result: True when its model part is only what the app's results page computes
            (θ̂, the varied best prompts and their scores, the summary): once a person's results
            are shown the app builds it as a lookup, without queueing for the heavy threads.
        text: True when the main file is UTF-8 text that may go to standard output
            (``edpbrl export --out -``); binary formats keep the default False.
        companions: suffixes of the extra files :meth:`write` puts beside the main one (``.npy``),
            so that the command line can check them before exporting.
    """

    name: str = ""
    needs_model: bool = False
    from_result: bool = False
    text: bool = False
    companions: tuple[str, ...] = ()

    @abstractmethod
    def build(self, store: Store, sid: str, *, personalizer=None) -> Export:
        """The export of session ``sid`` as bytes. ExportError for an unknown session."""

    def write(self, store: Store, sid: str, out: Path) -> list[Path]:
        """Write the export to ``out`` (extra files beside it, named by their suffix); returns
        the paths written."""
        exp = self.build(store, sid)
        out.write_bytes(exp.data)
        written = [out]
        for name, data in exp.extra.items():
            dst = out.with_suffix(Path(name).suffix)
            dst.write_bytes(data if isinstance(data, bytes) else Path(data).read_bytes())
            written.append(dst)
        return written


def public_id(sid: str) -> str:
    """A stable, non-secret name for a session (first 16 hex digits of SHA-256 of its token)."""
    return hashlib.sha256(sid.encode()).hexdigest()[:16]


def session_row(store: Store, sid: str) -> SessionRow:
    """The stored session ``sid``; ExportError("unknown session") when there is none."""
    row = store.get_session(sid) if isinstance(sid, str) else None
    if row is None:
        raise ExportError("unknown session")
    return row


def find_session(store: Store, ident: str) -> str:
    """The session token that ``ident`` names: the token itself, or its :func:`public_id` (the
    ``session`` field of every export), looked up through :meth:`Store.session_ids`.

    For callers that already hold the whole store (the command line): a public id is not a
    credential, so the app's HTTP routes accept only tokens. ExportError (one line) when no
    session matches."""
    ident = str(ident).strip()
    if ident and store.get_session(ident) is not None:
        return ident
    if len(ident) == 16 and all(c in "0123456789abcdef" for c in ident.lower()):
        for sid in store.session_ids():
            if public_id(sid) == ident.lower():
                return sid
    raise ExportError(
        f"unknown session {ident!r} in {store.url}: give the token from the session's link or the "
        "public id in an export's 'session' field"
    )


def iso(t: float | None) -> str | None:
    """A UNIX time as an ISO-8601 UTC string with milliseconds (None stays None)."""
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc).isoformat(timespec="milliseconds")


def _jsonable(o: Any):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(o: Any, **kw) -> str:
    """JSON text (numpy arrays and paths allowed; non-ASCII kept)."""
    return json.dumps(o, default=_jsonable, ensure_ascii=False, **kw)


def jsonl(rows: list[dict]) -> bytes:
    """One JSON object per line, UTF-8."""
    return "".join(dumps(r) + "\n" for r in rows).encode("utf-8")


def shared_text(options: list[str]) -> str:
    """The comma-separated parts every option contains, in the first option's order."""
    if not options:
        return ""
    parts = [[s.strip() for s in o.split(",") if s.strip()] for o in options]
    common = [s for s in parts[0] if all(s in other for other in parts[1:])]
    return ", ".join(dict.fromkeys(common))
