"""``edpbrl bench encoder --memory CALLS``: does a long-running encoder's memory stay flat?

A server encodes batches of every size and length for hours. oneDNN (PyTorch's CPU kernels)
keeps kernels and buffers for each new input shape, so a process that sees ever new shapes grows.
This benchmark runs, in a fresh process per row (resident memory is per process), ``CALLS`` calls
of 1–40 random prompts of the packaged vocabulary through an encoder spec on one thread, and
reports the resident set size after a warm-up call and at the end, with the time per prompt.
The process tunes glibc's allocator as the web app does (:func:`edpbrl.memory.tune_malloc`).

Each spec is measured twice: through the project's encoder (``edpbrl``: in bfloat16 its shapes
are bucketed, see :class:`~edpbrl.embed.minilm.MiniLMEmbedder`) and, as the baseline in the same
run, through the sentence-transformers model's own ``encode`` (``package``: every batch at its
exact shape; what the project did before), for MiniLM specs only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import EdpbrlError
from ..memory import tune_malloc


@dataclass
class EncoderMemory:
    spec: str
    path: str  # "edpbrl" (the project's encoder) or "package" (sentence-transformers' own encode)
    calls: int
    texts: int
    rss_start_mb: float  # after loading and one warm-up call
    rss_end_mb: float
    growth_mb: float
    ms_per_text: float


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def _child(spec: str, path: str, calls: int, seed: int) -> EncoderMemory:
    import contextlib

    import torch
    from tqdm import tqdm

    from ..embed import load_embedder
    from ..embed.minilm import torch_autocast
    from .bench_encoder import sample_prompts

    tune_malloc()  # as the web app does
    torch.set_num_threads(1)
    emb = load_embedder(spec, cache=False)
    prompts = sample_prompts(2_000, seed)
    rng = np.random.default_rng(seed)
    if path == "edpbrl":
        encode = emb.encode
    else:
        model = emb._load()  # the package's SentenceTransformer
        bf16 = emb.precision == "bf16"

        def encode(texts):
            with torch_autocast("cpu") if bf16 else contextlib.nullcontext():
                return model.encode(texts, batch_size=32, show_progress_bar=False)

    encode(["a warm-up prompt"])
    start, n, t0 = _rss_mb(), 0, time.perf_counter()
    for _ in tqdm(range(calls), desc=f"{spec} {path}", unit="call", file=sys.stderr):
        k = int(rng.integers(1, 41))
        encode([prompts[i] for i in rng.integers(len(prompts), size=k)])
        n += k
    sec, end = time.perf_counter() - t0, _rss_mb()
    return EncoderMemory(spec, path, calls, n, start, end, end - start, 1000 * sec / n)


def run(specs=("minilm",), calls: int = 1_000, seed: int = 0) -> list[dict]:
    """One row per (spec, path), each measured in a fresh process; see the module docstring."""
    from ..embed import MiniLMEmbedder, load_embedder

    # an unknown spec: one line here, not a child's traceback; the package baseline exists only
    # for the sentence-transformers MiniLM (not, e.g., minilm-static)
    paths = {
        spec: ("edpbrl", "package")
        if isinstance(load_embedder(spec, cache=False), MiniLMEmbedder)
        else ("edpbrl",)
        for spec in specs
    }
    rows = []
    for spec in specs:
        for path in paths[spec]:
            args = [sys.executable, "-m", __name__, spec, path, str(calls), str(seed)]
            done = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
            if done.returncode != 0:
                raise EdpbrlError(f"encoder memory run for {spec} ({path}) failed (exit {done.returncode})")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


if __name__ == "__main__":  # the child process of :func:`run`
    spec_, path_, calls_, seed_ = sys.argv[1:5]
    print(json.dumps(asdict(_child(spec_, path_, int(calls_), int(seed_)))))
