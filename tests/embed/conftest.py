"""Fixtures of the encoder tests: the real MiniLM (loaded once) and tiny random CLIP checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from edpbrl.embed import MiniLMEmbedder


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    emb = MiniLMEmbedder()
    emb.encode(["warm up"])
    return emb


_CLIP_MAX_POS = 16


def _tiny_clip_tokenizer():
    """A byte-level BPE CLIP tokenizer built from an in-memory vocab (no download)."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for ch in alphabet:
        vocab[ch + "</w>"] = len(vocab)
    merges = [("s", "u"), ("su", "n"), ("sun", "n"), ("sunn", "y</w>"), ("a", "r"), ("ar", "t</w>")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges)


def _tiny_text_config(tok, projection_dim: int = 24) -> dict:
    return dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=_CLIP_MAX_POS,
        projection_dim=projection_dim,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


@pytest.fixture(scope="module")
def clip_dirs(tmp_path_factory) -> dict[str, Path]:
    """Tiny random CLIP checkpoints on disk: text+projection, full CLIPModel, no projection."""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPModel,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
    )

    tok = _tiny_clip_tokenizer()
    torch.manual_seed(0)
    dirs = {}

    dirs["text"] = tmp_path_factory.mktemp("clip_text")
    CLIPTextModelWithProjection(CLIPTextConfig(**_tiny_text_config(tok))).save_pretrained(dirs["text"])
    tok.save_pretrained(dirs["text"])

    dirs["full"] = tmp_path_factory.mktemp("clip_full")
    vision = dict(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=4,
        image_size=8,
        patch_size=4,
    )
    text_cfg = _tiny_text_config(tok)
    del text_cfg["projection_dim"]  # a CLIPModel keeps projection_dim at the top level only
    full = CLIPConfig(text_config=text_cfg, vision_config=vision, projection_dim=20)
    CLIPModel(full).save_pretrained(dirs["full"])
    tok.save_pretrained(dirs["full"])

    dirs["noproj"] = tmp_path_factory.mktemp("clip_noproj")
    CLIPTextModel(CLIPTextConfig(**_tiny_text_config(tok))).save_pretrained(dirs["noproj"])
    tok.save_pretrained(dirs["noproj"])
    return dirs
