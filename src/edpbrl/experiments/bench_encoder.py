"""``edpbrl bench encoder``: encoder throughput by spec and batch size on this machine.

Times the same prompts (random full or partial prompts of the packaged vocabulary) through each
encoder spec, uncached, in batches of the given sizes, after a warm-up call; reports texts per
second and the ratio to the first spec. Which precision is fastest depends on the CPU (bfloat16
needs AVX512-BF16 or AMX to pay off), so measure before choosing ``minilm:bf16``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ..embed import load_embedder
from ..vocab import Vocabulary


@dataclass
class EncoderTiming:
    spec: str
    batch: int
    texts: int
    seconds: float
    texts_per_second: float
    ratio_to_first: float  # texts/s relative to the first spec at the same batch size


def sample_prompts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct random prompts of the packaged vocabulary (prefixes of 1..H slots)."""
    v = Vocabulary.default()
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        h = int(rng.integers(1, v.horizon + 1))
        text = v.prompt([int(rng.integers(len(s))) for s in v.slots][:h])
        if text:
            out[text] = None
    return list(out)


def run(specs=("minilm", "minilm:bf16"), batches=(12, 120), texts: int = 240, seed: int = 0) -> list[dict]:
    """One row per (spec, batch size); see the module docstring."""
    prompts = sample_prompts(texts, seed)
    rows: list[EncoderTiming] = []
    first: dict[int, float] = {}
    for spec in specs:
        emb = load_embedder(spec, cache=False)
        emb.encode(["a warm-up prompt"])
        for b in batches:
            t0 = time.perf_counter()
            for i in range(0, len(prompts), b):
                emb.encode(prompts[i : i + b])
            sec = time.perf_counter() - t0
            rate = len(prompts) / sec
            first.setdefault(b, rate)
            rows.append(EncoderTiming(spec, b, len(prompts), sec, rate, rate / first[b]))
    return [asdict(r) for r in rows]
