"""The encoder registry and its spec language: one parser (:func:`load_embedder`) and one
unparser (:func:`embedder_spec`).

A spec is ``KIND`` or ``KIND:ARGUMENT`` (``minilm``, ``minilm:bf16``, ``hashing:64``,
``clip:/models/clip``, ``sum:minilm``). Each kind is an :class:`EmbedderKind` registered in
:data:`EMBEDDERS` under its ``KIND``: how to build one from the argument, and how to recognise
one of its encoders to write its spec back (for saved configurations). Adding an encoder is one
module that registers a kind; the command line's help and errors list :func:`spec_usage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..device import check_device
from ..errors import EmbedderError
from ..registry import Registry
from .base import Embedder


@dataclass(frozen=True)
class BuildOptions:
    """What every kind's ``build`` receives besides the spec's argument."""

    device: str = "cpu"
    cache: bool = True
    cache_dir: str | Path | None = None


@dataclass(frozen=True)
class EmbedderKind:
    """How to make and recognise one kind of encoder.

    Attributes:
        usage: the spec forms, e.g. ``"hashing[:DIM]"`` (shown in help and errors).
        build: ``build(argument or None, BuildOptions) -> Embedder``; raise EmbedderError on a
            bad argument.
        spec_of: ``spec_of(embedder) -> spec or None`` (None: not one of this kind's encoders).
        cached: whether :func:`load_embedder` wraps the result in the disk cache.
    """

    usage: str
    build: Callable[[str | None, BuildOptions], Embedder]
    spec_of: Callable[[Any], str | None] = field(default=lambda emb: None)
    cached: bool = True


EMBEDDERS: Registry[EmbedderKind] = Registry("embedder")
DEFAULT_SPEC = "minilm"


def spec_usage() -> str:
    """Every registered spec form, e.g. ``minilm[:bf16|:auto], hashing[:DIM], clip:PATH, sum:SPEC or
    minilm-static``."""
    forms = [k.usage for _, k in EMBEDDERS.items()]
    return forms[0] if len(forms) == 1 else ", ".join(forms[:-1]) + " or " + forms[-1]


def unknown_spec(spec) -> EmbedderError:
    """The one-line error for a spec that names no registered form."""
    return EmbedderError(f"unknown embedder {spec!r}: expected {spec_usage()}")


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``"KIND:ARG"`` → ``("kind", "ARG")``; ``"KIND"`` → ``("kind", None)``.

    A kind whose usage requires an argument (``clip:PATH``) without one is an unknown spec.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise unknown_spec(spec)
    head, sep, arg = spec.strip().partition(":")
    head = head.strip().lower()
    if head not in EMBEDDERS:
        raise unknown_spec(spec)
    usage = EMBEDDERS.get(head).usage
    if not sep and ":" in usage and "[:" not in usage:
        raise unknown_spec(spec)
    return head, (arg.strip() if sep else None)


def load_embedder(
    spec: str | Embedder | None = DEFAULT_SPEC,
    *,
    device: str = "cpu",
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> Embedder:
    """Build an encoder from a spec (see the module docstring), or pass an encoder object through.

    Args:
        spec: a spec string, ``None`` (the default, MiniLM) or an object satisfying
            :class:`~edpbrl.embed.base.Embedder`.
        device: torch device for model-backed encoders.
        cache: wrap cacheable encoders in a :class:`~edpbrl.embed.cache.CachedEmbedder`.
        cache_dir: cache directory; default :func:`~edpbrl.embed.cache.default_cache_dir`.

    Returns:
        An :class:`Embedder` whose ``encode`` gives ``float32`` ``(n, dim)`` rows.

    Raises:
        EmbedderError: unknown spec or bad parameters.
        DeviceError: a device this torch or machine does not have.
    """
    from .cache import CachedEmbedder

    device = check_device(device)
    if spec is None:
        spec = DEFAULT_SPEC
    if isinstance(spec, str):
        head, arg = parse_spec(spec)
        kind = EMBEDDERS.get(head)
        emb = kind.build(arg, BuildOptions(device=str(device), cache=cache, cache_dir=cache_dir))
        wrap = kind.cached
    elif isinstance(spec, Embedder):
        emb = spec
        wrap = not isinstance(emb, CachedEmbedder) and getattr(emb, "cacheable", True)
    else:
        raise unknown_spec(spec)
    return CachedEmbedder(emb, cache_dir=cache_dir) if cache and wrap else emb


def embedder_spec(embedder: Embedder) -> str:
    """The :func:`load_embedder` spec that re-creates ``embedder`` (for saved configurations).

    Raises EmbedderError for encoders that no spec can re-create (custom objects).
    """
    from .cache import CachedEmbedder

    inner = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
    for _, kind in EMBEDDERS.items():
        spec = kind.spec_of(inner)
        if spec is not None:
            return spec
    raise EmbedderError(
        f"encoder {getattr(inner, 'name', type(inner).__name__)!r} has no "
        "load_embedder spec; pass it explicitly when restoring"
    )
