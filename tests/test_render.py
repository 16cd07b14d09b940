"""The rendering backend on a tiny, randomly initialised Stable-Diffusion pipeline built here."""

from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edpbrl.errors import EdpbrlError  # noqa: E402
from edpbrl.render import (  # noqa: E402
    DiffusersGenerator,
    ImageCache,
    RenderError,
    load_generator,
    seed_for,
)


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    """A ~100 kB StableDiffusionPipeline saved to disk (random weights, offline tokenizer)."""
    torch = pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers", reason="needs the 'render' extra")
    transformers = pytest.importorskip("transformers", reason="needs the 'render' extra")
    chars = [chr(c) for c in range(33, 127)]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    tokenizer = transformers.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)
    torch.manual_seed(0)
    text_encoder = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=16,
            projection_dim=32,
            bos_token_id=vocab["<|startoftext|>"],
            eos_token_id=vocab["<|endoftext|>"],
            pad_token_id=vocab["<|endoftext|>"],
        )
    )
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=32,
        attention_head_dim=4,
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=32,
    )
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = diffusers.StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    path = tmp_path_factory.mktemp("tiny-sd")
    pipe.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def gen(tiny_sd):
    return DiffusersGenerator(tiny_sd, steps=2, size=32, guidance=1.0)


def test_seed_for_is_stable():
    assert seed_for("a cat", 0) == seed_for("a cat", 0)
    assert seed_for("a cat", 0) != seed_for("a cat", 1) != seed_for("a dog", 1)
    assert 0 <= seed_for("x", 5) < 2**31


def test_load_generator_none_and_errors(tmp_path):
    assert load_generator(None) is None and load_generator("") is None
    with pytest.raises(RenderError, match="no model_index.json"):
        load_generator(tmp_path)
    assert issubclass(RenderError, EdpbrlError)
    (tmp_path / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    with pytest.raises(RenderError, match="cannot load diffusers pipeline"):
        DiffusersGenerator(tmp_path, steps=1, size=32)
    with pytest.raises(RenderError, match="steps"):
        DiffusersGenerator(tmp_path, steps=0)
    with pytest.raises(RenderError, match="multiple of 8"):
        DiffusersGenerator(tmp_path, size=30)


def test_diffusers_backend_renders_reproducibly(gen):
    assert gen.device == "cpu" and str(gen.pipe.unet.dtype) == "torch.float32"
    a = gen.render("a red fox, watercolor", seed=7)
    b = gen.render("a red fox, watercolor", seed=7)
    c = gen.render("a red fox, watercolor", seed=8)
    assert a.size == (32, 32)
    assert a.tobytes() == b.tobytes()  # same prompt and seed → same image
    assert a.tobytes() != c.tobytes()
    assert "steps=2" in gen.model_id and "size=32" in gen.model_id


def test_image_cache(gen, tmp_path):
    calls = []

    class Counting:
        model_id = gen.model_id

        def render(self, prompt, seed):
            calls.append((prompt, seed))
            return gen.render(prompt, seed)

    cache = ImageCache(tmp_path / "cache")
    counting = Counting()
    paths = []
    threads = [
        threading.Thread(target=lambda: paths.append(cache.get(counting, "a lighthouse", 3)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(paths)) == 1  # rendered once under concurrent requests
    p = paths[0]
    assert p.is_file() and p.read_bytes()[:4] == b"\x89PNG"
    assert cache.get(counting, "a lighthouse", 3) == p and len(calls) == 1
    assert cache.get(counting, "a lighthouse", 4) != p  # the seed is part of the key
    assert cache.path("a lighthouse", 3, "other-model") != p  # and so is the model
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_app_renders_options_with_the_diffusers_backend(tiny_sd, tmp_path, tiny_vocab_dir):
    pytest.importorskip("fastapi")
    import sys
    from pathlib import Path

    from fastapi.testclient import TestClient

    sys.path.insert(0, str(Path(__file__).parent / "app"))
    from app_helpers import start

    from edpbrl.app.server import create_app

    gen = DiffusersGenerator(tiny_sd, steps=2, size=32, guidance=1.0)
    app = create_app(
        tmp_path / "r.db",
        generator=gen,
        vocab=tiny_vocab_dir,
        k=2,
        episodes=1,
        embedder="hashing",
    )
    with TestClient(app, base_url="http://127.0.0.1") as c:  # Host must be a loopback name
        sid, s = start(c)
        url = s["question"]["options"][0]["image"]
        r = c.get(url)
        assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
        assert list((tmp_path / "r-images").rglob("*.png"))
    # a directory works too (loaded through load_generator)
    app2 = create_app(
        tmp_path / "r2.db", generator=str(tiny_sd), embedder="hashing", vocab=tiny_vocab_dir, k=2, episodes=1
    )
    assert app2.state.generator.model_id.startswith("diffusers:")
