"""An in-memory and on-disk cache around any encoder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import EmbedderError
from .base import Embedder, check_dim, check_texts, finalise

_CACHE_ENV = "EDPBRL_CACHE_DIR"
_MEMORY_LIMIT = 50_000  # rows kept in a CachedEmbedder's in-memory dict before it is cleared


def default_cache_dir() -> Path:
    """``$EDPBRL_CACHE_DIR`` if set, else ``~/.cache/edpbrl/embeddings``."""
    env = os.environ.get(_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "edpbrl" / "embeddings"


class CachedEmbedder:
    """Wrap an encoder with an in-memory row cache and an on-disk cache of whole calls.

    ``name`` and ``dim`` are those of ``inner``. For a call with ``texts`` the disk key is
    ``sha256(inner.name + "\\x00" + "\\x00".join(texts))`` and the result ``(n, dim)`` is stored
    in ``<cache_dir>/<key>.npy`` (written to a temporary file, then moved with ``os.replace``).
    Rows already seen by this instance are served from memory, and only unseen texts are passed to
    ``inner.encode``. A corrupt or mismatched cache file is ignored and rewritten; a cache directory
    that cannot be written only triggers a warning.

    Args:
        inner: the encoder to wrap.
        cache_dir: where ``.npy`` files go; default :func:`default_cache_dir`.

    Attributes that may be changed after construction: ``memory_rows``, the most rows kept in
    memory (the in-memory cache is emptied when it would grow past it; 0 keeps none), and
    ``disk_min``, the fewest texts a call needs to be read from or written to disk (a server sets
    it so that only large calls, such as a vocabulary's, leave a file behind).
    """

    def __init__(self, inner: Embedder, cache_dir: str | Path | None = None) -> None:
        if not isinstance(inner, Embedder):
            raise EmbedderError(f"inner must be an Embedder (name, dim, encode), got {type(inner).__name__}")
        self.inner = inner
        self.name = str(inner.name)
        self.dim = check_dim(inner.dim)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self._rows: dict[str, np.ndarray] = {}
        self._warned = False
        self.memory_rows = _MEMORY_LIMIT
        self.disk_min = 0

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r}, cache_dir={str(self.cache_dir)!r})"

    def cache_key(self, texts: Sequence[str]) -> str:
        """The hex sha256 naming the cache file of a call with ``texts``."""
        h = hashlib.sha256()
        h.update(self.name.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
        h.update("\x00".join(texts).encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def cache_path(self, texts: Sequence[str]) -> Path:
        """The ``.npy`` file that holds (or would hold) the result for ``texts``."""
        return self.cache_dir / f"{self.cache_key(texts)}.npy"

    def _remember(self, texts: list[str], rows: np.ndarray) -> None:
        if len(self._rows) + len(texts) > self.memory_rows:
            self._rows.clear()
            if len(texts) > self.memory_rows:
                return
        for t, row in zip(texts, rows, strict=True):
            self._rows[t] = row

    def _read(self, path: Path, n: int) -> np.ndarray | None:
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except Exception:  # corrupt or unreadable: ignore, it will be rewritten
            return None
        if (
            not isinstance(arr, np.ndarray)
            or arr.dtype != np.float32
            or arr.shape != (n, self.dim)
            or not np.isfinite(arr).all()
        ):
            return None
        return arr

    def _write(self, path: Path, arr: np.ndarray) -> None:
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            if not self._warned:
                warnings.warn(f"embedding cache not written to {path.parent}: {exc}", stacklevel=3)
                self._warned = True
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def cached(self, texts: Sequence[str]) -> np.ndarray | None:
        """The rows of ``texts`` (n, dim) when this call is cached (in memory, or on disk for a
        call of at least ``disk_min`` texts), else None; never runs the model (so it needs no
        lock around the model: a server looks here before waiting for an encoder copy)."""
        texts = check_texts(texts)
        n = len(texts)
        rows = self._rows
        if n and all(t in rows for t in texts):
            return np.stack([rows[t] for t in texts]).astype(np.float32, copy=False)
        if n == 0 or n < self.disk_min:
            return None
        return self._read(self.cache_path(texts), n)

    def put(self, texts: Sequence[str], rows: np.ndarray) -> None:
        """Store ``rows`` (n, dim) as the result of a call with ``texts`` (computed elsewhere, e.g.
        split over several copies of the encoder): on disk when the call has at least ``disk_min``
        texts, so that :meth:`cached` finds it after a restart."""
        texts = check_texts(texts)
        rows = np.asarray(rows, dtype=np.float32)
        if rows.shape != (len(texts), self.dim):
            raise EmbedderError(
                f"put: rows {rows.shape} do not match {len(texts)} texts of dimension {self.dim}"
            )
        if texts and len(texts) >= self.disk_min:
            self._write(self.cache_path(texts), rows)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``n`` texts to ``float32`` ``(n, dim)``, reusing cached rows where possible."""
        texts = check_texts(texts)
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._rows
        if all(t in rows for t in texts):
            return np.stack([rows[t] for t in texts]).astype(np.float32, copy=False)

        disk = n >= self.disk_min
        path = self.cache_path(texts) if disk else None
        cached = self._read(path, n) if disk else None
        if cached is not None:
            self._remember(texts, cached)
            return cached.copy()

        unseen = list(dict.fromkeys(t for t in texts if t not in rows))
        new = finalise(self.inner.encode(unseen), len(unseen), self.dim, self.name, False)
        fresh = dict(zip(unseen, new, strict=True))
        out = np.stack([fresh[t] if t in fresh else rows[t] for t in texts])
        out = out.astype(np.float32, copy=False)
        self._remember(unseen, new)
        if path is not None:
            self._write(path, out)
        return out
