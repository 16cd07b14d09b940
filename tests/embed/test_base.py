"""The encoder contract's input checks (shared by every encoder)."""

from __future__ import annotations

import numpy as np
import pytest

from edpbrl.embed import (
    HashingEmbedder,
)
from edpbrl.errors import EdpbrlError, EmbedderError


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        ("a red car", "bare str"),
        (b"a red car", "bare bytes"),
        (["ok", None], r"texts\[1\] is NoneType"),
        (["ok", 3], r"texts\[1\] is int"),
        (42, "sequence of str, got int"),
        (None, "sequence of str, got NoneType"),
        ({"a", "b"}, "sequence of str, got set"),
        (np.array([["a", "b"]]), "1-D"),
    ],
)
def test_bad_texts_raise_one_line_error(texts, match):
    with pytest.raises(EmbedderError, match=match) as info:
        HashingEmbedder().encode(texts)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, EdpbrlError)


def test_tuple_and_numpy_str_array_accepted():
    emb = HashingEmbedder()
    ref = emb.encode(["a", "b c"])
    np.testing.assert_array_equal(emb.encode(("a", "b c")), ref)
    np.testing.assert_array_equal(emb.encode(np.array(["a", "b c"])), ref)


def test_every_builtin_encoder_honours_the_contract(minilm, clip_dirs, tmp_path):
    from edpbrl.embed import CachedEmbedder, CLIPTextEmbedder, TokenSumEmbedder, check_embedder

    for emb in (
        HashingEmbedder(16),
        CachedEmbedder(HashingEmbedder(16), cache_dir=tmp_path),
        minilm,
        CLIPTextEmbedder(clip_dirs["text"]),
        TokenSumEmbedder(HashingEmbedder(16)),  # says unit_norm = False: sums are not unit rows
    ):
        check_embedder(emb)
    assert TokenSumEmbedder.unit_norm is False
    s = TokenSumEmbedder(HashingEmbedder(16)).encode(["a cat, moonlit"])
    assert abs(float(np.linalg.norm(s)) - 1.0) > 0.1  # and indeed they are not
