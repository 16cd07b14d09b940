"""The encoder contract and the input/output checks every encoder shares.

An encoder (:class:`Embedder`) has a stable ``name`` (used as a cache key), a feature dimension
``dim`` and ``encode(texts)``, which returns a ``float32`` array of shape ``(n, dim)``.

The **unit-norm contract**: every row is L2-normalised, except that a blank text (``""`` or
whitespace only) maps to an all-zero row, so an empty prompt slot contributes nothing downstream;
``encode([])`` returns shape ``(0, dim)``. An encoder that deliberately returns rows of other
norms says so with the class attribute ``unit_norm = False`` and documents why
(:class:`~edpbrl.embed.token_sum.TokenSumEmbedder` is the one such built-in).
:func:`check_embedder` tests an object against the contract.

Inputs and outputs are numpy arrays; torch is used only inside the model-backed encoders.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import EmbedderError


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps texts to unit-norm vectors.

    Attributes:
        name: stable identity of the encoder (model and dimension), used as a cache key.
        dim: feature dimension ``d``.
    Optional attributes: ``unit_norm`` (default True; see the module docstring) and
    ``cacheable`` (default True: :func:`~edpbrl.embed.load_embedder` may wrap it in a disk cache).
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``n`` texts to a ``float32`` array of shape ``(n, dim)`` with unit-norm rows.

        A blank text maps to an all-zero row; ``n == 0`` gives shape ``(0, dim)``.
        """
        ...


def check_embedder(emb: Any, probe: Sequence[str] = ("a castle", "", "oil painting, moonlit")) -> None:
    """Raise a one-line :class:`EmbedderError` unless ``emb`` honours the contract on ``probe``
    (shape, dtype, finite values, unit rows unless ``unit_norm`` is False, zero rows for blanks)."""
    if not isinstance(emb, Embedder):
        raise EmbedderError(f"{type(emb).__name__} is not an Embedder (needs name, dim and encode)")
    dim = check_dim(emb.dim)
    probe = list(probe)
    out = emb.encode(probe)
    who = getattr(emb, "name", type(emb).__name__)
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != (len(probe), dim):
        shape = getattr(out, "shape", None)
        raise EmbedderError(f"{who} must return float32 ({len(probe)}, {dim}), got {shape}")
    if not np.isfinite(out).all():
        raise EmbedderError(f"{who} returned non-finite values")
    norms = np.linalg.norm(out, axis=1)
    blank = np.array([is_blank(t) for t in probe])
    if (norms[blank] != 0).any():
        raise EmbedderError(f"{who} must map blank texts to zero rows")
    if getattr(emb, "unit_norm", True) and not np.allclose(norms[~blank], 1.0, atol=1e-4):
        raise EmbedderError(f"{who} breaks the unit-norm contract (row norms {norms[~blank].round(4)})")
    if emb.encode([]).shape != (0, dim):
        raise EmbedderError(f"{who}.encode([]) must have shape (0, {dim})")


def check_texts(texts: Any) -> list[str]:
    """Return ``texts`` as a list of str, or raise a one-line :class:`EmbedderError`."""
    if isinstance(texts, (str, bytes)):
        raise EmbedderError(
            f"texts must be a sequence of str, got a bare {type(texts).__name__}; "
            "wrap a single text in a list"
        )
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise EmbedderError(f"texts must be 1-D, got an array of shape {texts.shape}")
        texts = texts.tolist()
    elif not isinstance(texts, Sequence):
        raise EmbedderError(f"texts must be a sequence of str, got {type(texts).__name__}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise EmbedderError(f"texts[{i}] is {type(t).__name__}, expected str")
    return out


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise EmbedderError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


MAX_DIM = 1 << 16  # no encoder needs more; a typo such as hashing:6400000 would exhaust memory


def check_dim(dim: Any) -> int:
    dim = _positive_int(dim, "dim")
    if dim > MAX_DIM:
        raise EmbedderError(f"dim must be at most {MAX_DIM}, got {dim}")
    return dim


def check_batch_size(batch_size: Any) -> int:
    return _positive_int(batch_size, "batch_size")


def is_blank(text: str) -> bool:
    return not text.strip()


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise the rows of a 2-D array in place where their norm is positive; float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def finalise(rows: Any, n: int, dim: int, who: str, normalise: bool = True) -> np.ndarray:
    """Check an encoder's output (shape ``(n, dim)``, finite); return float32 (unit) rows."""
    rows = np.array(rows, dtype=np.float32)  # always a fresh copy
    if rows.shape != (n, dim):
        raise EmbedderError(f"{who} returned shape {rows.shape}, expected {(n, dim)}")
    if not np.isfinite(rows).all():
        bad = int((~np.isfinite(rows)).any(axis=1).sum())
        raise EmbedderError(f"{who} produced non-finite embeddings for {bad} text(s)")
    return normalise_rows(rows) if normalise else rows


def encode_nonblank(texts: list[str], dim: int, encode_fn, who: str) -> np.ndarray:
    """Run ``encode_fn`` on the non-blank texts only; blank texts get zero rows. ``(n, dim)``."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    idx = [i for i, t in enumerate(texts) if not is_blank(t)]
    if idx:
        out[idx] = finalise(encode_fn([texts[i] for i in idx]), len(idx), dim, who)
    return out


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and load reports while a model loads."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency of sentence-transformers
        yield
        return
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
