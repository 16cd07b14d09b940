"""Text encoders: map prompts to unit-norm feature vectors.

* :mod:`.base` — the :class:`Embedder` contract (unit-norm rows, zero rows for blanks) and checks;
* :mod:`.registry` — the encoder registry and the spec language (:func:`load_embedder`,
  :func:`embedder_spec`);
* built-in kinds: :mod:`.minilm` (``minilm[:bf16|:auto]``), :mod:`.hashing` (``hashing[:DIM]``),
  :mod:`.clip` (``clip:PATH``), :mod:`.token_sum` (``sum:SPEC``); :mod:`.cache` wraps any of them
  in a disk cache.
"""

import os

# Never reach out to the Hugging Face hub; every model is loaded from a local directory.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# isort: off
# The built-in kinds register in this order, which is the order help and errors list them.
from . import minilm, hashing, clip, token_sum, static  # noqa: E402, F401

# isort: on
from .base import Embedder, check_embedder  # noqa: E402
from .cache import CachedEmbedder, default_cache_dir  # noqa: E402
from .clip import CLIPTextEmbedder  # noqa: E402
from .hashing import HashingEmbedder  # noqa: E402
from .minilm import MINILM_DIM, MiniLMEmbedder  # noqa: E402
from .registry import EMBEDDERS, EmbedderKind, embedder_spec, load_embedder, spec_usage  # noqa: E402
from .static import StaticWordpieceEmbedder  # noqa: E402
from .token_sum import TokenSumEmbedder  # noqa: E402

__all__ = [
    "EMBEDDERS",
    "MINILM_DIM",
    "CLIPTextEmbedder",
    "CachedEmbedder",
    "Embedder",
    "EmbedderKind",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "StaticWordpieceEmbedder",
    "TokenSumEmbedder",
    "check_embedder",
    "default_cache_dir",
    "embedder_spec",
    "load_embedder",
    "spec_usage",
]
