"""Exports of an app session: raw questions/answers, preference datasets, and θ̂.

One contract (:mod:`.base`: :class:`Format`, :class:`Export`), one registry (:mod:`.registry`:
:data:`FORMATS`, :func:`build_export`, :func:`export_session`), one module per format:
``jsonl`` (:mod:`.jsonl`), ``trl`` (:mod:`.trl`), ``pickapic`` (:mod:`.pickapic`), ``theta`` and
``npy`` (:mod:`.theta`). A new format is one module that subclasses :class:`Format` and calls
:func:`register_format` — see ``docs/extending.md``.
"""

# isort: off
# The built-ins register in this order, which is the order help text lists them.
from . import jsonl, trl, pickapic, theta  # noqa: F401

# isort: on
from .base import Export, ExportError, Format, find_session, public_id, shared_text
from .registry import FORMATS, build_export, export_bytes, export_session, get_format, register_format
from .theta import read_theta, theta_payload
from .trl import TRL_INSTRUCTION, trl_prompt

__all__ = [
    "FORMATS",
    "TRL_INSTRUCTION",
    "Export",
    "ExportError",
    "Format",
    "build_export",
    "export_bytes",
    "export_session",
    "find_session",
    "get_format",
    "public_id",
    "read_theta",
    "register_format",
    "shared_text",
    "theta_payload",
    "trl_prompt",
]
