"""Beam search for personalised prompts, against brute-force enumeration of every prompt."""

import itertools

import numpy as np
import pytest

from edpbrl.embed import HashingEmbedder, TokenSumEmbedder
from edpbrl.prompts import beam_search
from edpbrl.vocab import Vocabulary, join_prompt

VOCAB = Vocabulary(
    {
        "subject": ["a castle", "a cat", "a forest", "a robot"],
        "style": ["watercolor", "oil painting", "pixel art", ""],
        "light": ["sunny", "moonlit", "neon glow"],
    }
)


def _all_prompts(vocab):
    return sorted({join_prompt(t) for t in itertools.product(*(s.entries for s in vocab.slots))} - {""})


def _brute_force(theta, emb, vocab, n):
    prompts = _all_prompts(vocab)
    scores = emb.encode(prompts) @ theta
    order = np.argsort(-scores, kind="stable")
    return [(prompts[i], float(scores[i])) for i in order[:n]]


@pytest.mark.parametrize("seed", range(3))
def test_exact_with_additive_features_and_full_shortlist(seed):
    """With additive features every slot's best token is independent of the others, so beam
    search (shortlist = whole slot) must return exactly the enumerated top prompts."""
    emb = TokenSumEmbedder(HashingEmbedder(16))
    theta = np.random.default_rng(seed).normal(size=16)
    got = beam_search(theta, VOCAB, emb, n=5, beam=48, shortlist=4)
    want = _brute_force(theta, emb, VOCAB, 5)
    assert [t for t, _ in got] == [t for t, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5)


def test_scores_are_the_encoders_and_sorted():
    emb = HashingEmbedder(32)
    theta = np.random.default_rng(4).normal(size=32)
    got = beam_search(theta, VOCAB, emb, n=6, beam=10)
    texts = [t for t, _ in got]
    assert len(texts) == len(set(texts)) == 6
    np.testing.assert_allclose([s for _, s in got], emb.encode(texts) @ theta, rtol=1e-5)
    assert all(a[1] >= b[1] for a, b in zip(got, got[1:]))


def test_non_additive_beam_is_near_the_true_best():
    """Whole-prompt embeddings are not additive: the beam is a heuristic, but its best prompt is
    at least as good as the median prompt and with a beam covering everything it is exact."""
    emb = HashingEmbedder(32)
    theta = np.random.default_rng(5).normal(size=32)
    best = _brute_force(theta, emb, VOCAB, 1)[0]
    wide = beam_search(theta, VOCAB, emb, n=1, beam=200, shortlist=4)[0]
    assert wide[0] == best[0]
    narrow = beam_search(theta, VOCAB, emb, n=1, beam=2, shortlist=2)[0]
    all_scores = emb.encode(_all_prompts(VOCAB)) @ theta
    assert narrow[1] >= np.median(all_scores)


def test_uses_given_token_features():
    emb = HashingEmbedder(16)
    theta = np.random.default_rng(6).normal(size=16)
    feats = [emb.encode(list(s.entries)) for s in VOCAB.slots]
    assert beam_search(theta, VOCAB, emb, n=3, token_features=feats) == beam_search(theta, VOCAB, emb, n=3)


def test_candidates_caps_the_prefixes_encoded_per_slot():
    from tests.embed._helpers import CountingEmbedder

    emb = CountingEmbedder(HashingEmbedder(32))
    theta = np.random.default_rng(7).normal(size=32)
    feats = [emb.inner.encode(list(s.entries)) for s in VOCAB.slots]
    full = beam_search(theta, VOCAB, emb, n=4, beam=10, shortlist=4, token_features=feats)
    assert max(len(c) for c in emb.calls) > 5
    emb.calls.clear()
    capped = beam_search(theta, VOCAB, emb, n=4, beam=10, shortlist=4, candidates=5, token_features=feats)
    assert emb.calls and max(len(c) for c in emb.calls) <= 5
    assert len(capped) == 4 and all(a[1] >= b[1] for a, b in zip(capped, capped[1:]))
    np.testing.assert_allclose(
        [s for _, s in capped], emb.inner.encode([t for t, _ in capped]) @ theta, rtol=1e-5
    )
    # a cap at least beam × shortlist changes nothing
    assert (
        beam_search(theta, VOCAB, emb, n=4, beam=10, shortlist=4, candidates=40, token_features=feats) == full
    )
