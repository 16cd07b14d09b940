"""CLIP text encoders from a local directory (tiny random checkpoints, nothing downloaded)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edpbrl.embed import (
    CLIPTextEmbedder,
    Embedder,
)
from edpbrl.errors import EmbedderError

from ._helpers import assert_unit_rows


def test_clip_encode_unit_rows(clip_dirs):
    emb = CLIPTextEmbedder(clip_dirs["text"])
    assert emb.dim == 24
    assert emb.name == f"clip:{clip_dirs['text'].resolve()}"
    assert isinstance(emb, Embedder)
    long_text = "a sunny art gallery " * 20  # far beyond the 16 positions: must be truncated
    x = emb.encode(["a sunny beach", "", "modern art", long_text])
    assert x.shape == (4, 24) and x.dtype == np.float32
    assert not x[1].any()
    assert_unit_rows(x[[0, 2, 3]], 3, 24)
    assert emb.encode([]).shape == (0, 24)
    # padding within a batch changes the result only by float noise
    np.testing.assert_allclose(emb.encode(["modern art"])[0], x[2], atol=1e-6)


def test_clip_matches_transformers_text_embeds(clip_dirs):
    import torch
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    texts = ["a sunny beach", "modern art", "x"]
    path = clip_dirs["text"]
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = CLIPTextModelWithProjection.from_pretrained(path, local_files_only=True).eval()
    with torch.no_grad():
        ref = model(**tok(texts, padding=True, return_tensors="pt")).text_embeds.numpy()
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    got = CLIPTextEmbedder(path, batch_size=2).encode(texts)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_clip_full_model_directory(clip_dirs):
    emb = CLIPTextEmbedder(str(clip_dirs["full"]))
    assert emb.dim == 20
    assert_unit_rows(emb.encode(["a sunny beach", "modern art"]), 2, 20)


def test_clip_without_projection_raises(clip_dirs):
    emb = CLIPTextEmbedder(clip_dirs["noproj"])
    with pytest.raises(EmbedderError, match="text projection"):
        emb.encode(["a sunny beach"])


def test_clip_missing_dir(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(EmbedderError, match="not found") as info:
        CLIPTextEmbedder(missing)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_clip_not_a_clip_dir(tmp_path):
    with pytest.raises(EmbedderError, match="no config.json") as info:
        CLIPTextEmbedder(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(EmbedderError, match="not a CLIP model directory") as info:
        CLIPTextEmbedder(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(EmbedderError, match="cannot read"):
        CLIPTextEmbedder(tmp_path)


def test_clip_dir_without_tokenizer(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clip_text_model"}))
    with pytest.raises(EmbedderError, match="no CLIP tokenizer") as info:
        CLIPTextEmbedder(tmp_path)
    assert str(tmp_path) in str(info.value)
