"""Projected text embeddings of a CLIP model stored in a local directory (nothing downloaded)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbedderError
from .base import check_batch_size, check_dim, check_texts, encode_nonblank, quiet_transformers
from .registry import EMBEDDERS, BuildOptions, EmbedderKind

_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))


class CLIPTextEmbedder:
    """Projected text embeddings (``text_embeds``) of a CLIP model in a local directory.

    ``path`` holds either a full CLIP model (``model_type == "clip"``, e.g. a copy of
    openai/clip-vit-base-patch32) or a CLIP text model with projection
    (``model_type == "clip_text_model"``), plus its tokenizer files. Nothing is downloaded. The
    directory is checked at construction; weights load on the first :meth:`encode` call. Texts are
    truncated to the model's maximum length. ``dim`` is the projection dimension.

    Raises:
        EmbedderError: the directory is missing or does not hold a CLIP model and tokenizer.
    """

    def __init__(self, path: str | Path, device: str = "cpu", batch_size: int = 128) -> None:
        self.path = Path(path).expanduser().resolve()
        self.device = str(device)
        self.batch_size = check_batch_size(batch_size)
        self._raw_config = self._read_config(self.path)
        if self._raw_config.get("model_type") == "clip":
            text_cfg = dict(self._raw_config.get("text_config") or {})
        else:
            text_cfg = dict(self._raw_config)
        self.dim = check_dim(int(self._raw_config.get("projection_dim", 512)))
        self._max_positions = int(text_cfg.get("max_position_embeddings", 77))
        self.name = f"clip:{self.path}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CLIPTextEmbedder({str(self.path)!r}, device={self.device!r})"

    @staticmethod
    def _read_config(path: Path) -> dict:
        if not path.is_dir():
            raise EmbedderError(f"CLIP model directory not found: {path}")
        cfg_file = path / "config.json"
        if not cfg_file.is_file():
            raise EmbedderError(f"not a CLIP model directory (no config.json): {path}")
        try:
            raw = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EmbedderError(f"cannot read {cfg_file}: {exc}".splitlines()[0]) from exc
        model_type = raw.get("model_type") if isinstance(raw, dict) else None
        if model_type not in ("clip", "clip_text_model"):
            raise EmbedderError(
                f"not a CLIP model directory (model_type {model_type!r}, expected 'clip' or "
                f"'clip_text_model'): {path}"
            )
        if not any(all((path / f).is_file() for f in group) for group in _TOKENIZER_FILES):
            raise EmbedderError(
                f"no CLIP tokenizer in {path} (expected tokenizer.json or vocab.json + merges.txt)"
            )
        return raw

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                try:
                    import torch
                    from transformers import (
                        AutoTokenizer,
                        CLIPTextConfig,
                        CLIPTextModelWithProjection,
                    )

                    raw = self._raw_config
                    config = None
                    if raw.get("model_type") == "clip":
                        text_cfg = dict(raw.get("text_config") or {})
                        text_cfg["projection_dim"] = self.dim
                        config = CLIPTextConfig.from_dict(text_cfg)
                    with quiet_transformers():
                        tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
                        model, info = CLIPTextModelWithProjection.from_pretrained(
                            self.path,
                            config=config,
                            local_files_only=True,
                            output_loading_info=True,
                            dtype=torch.float32,
                        )
                except Exception as exc:
                    raise EmbedderError(
                        f"cannot load CLIP text model from {self.path}: "
                        f"{type(exc).__name__}: {exc}".splitlines()[0]
                    ) from exc
                missing = sorted(info.get("missing_keys") or ())
                if missing:
                    raise EmbedderError(
                        f"CLIP checkpoint in {self.path} lacks {len(missing)} weight(s) "
                        f"(e.g. {missing[0]}); it needs a text projection"
                    )
                if int(model.config.projection_dim) != self.dim:
                    raise EmbedderError(
                        f"CLIP model in {self.path} has projection_dim "
                        f"{model.config.projection_dim}, config.json says {self.dim}"
                    )
                model.to(self.device)
                model.eval()
                self._tokenizer, self._model = tokenizer, model
        return self._tokenizer, self._model

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        max_len = min(int(tokenizer.model_max_length), self._max_positions)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=max_len,
                    return_tensors="pt",
                ).to(self.device)
                embeds = model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).text_embeds
                chunks.append(embeds.float().cpu().numpy())
        return np.concatenate(chunks, axis=0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``n`` texts to ``float32`` ``(n, dim)``; unit rows, blank texts -> zero rows."""
        texts = check_texts(texts)
        return encode_nonblank(texts, self.dim, self._encode_batch, self.name)


def _build(arg: str | None, opts: BuildOptions) -> CLIPTextEmbedder:
    if not arg:
        raise EmbedderError("clip spec needs a directory: clip:PATH")
    return CLIPTextEmbedder(arg, device=opts.device)


def _spec_of(emb) -> str | None:
    return emb.name if isinstance(emb, CLIPTextEmbedder) else None


EMBEDDERS.register(
    "clip",
    EmbedderKind("clip:PATH", _build, _spec_of),
    help="a CLIP model's projected text embeddings, from a local directory",
)
