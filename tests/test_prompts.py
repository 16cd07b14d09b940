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


def _slots_differ(a: str, b: str, vocab) -> int:
    """Number of slots in which two prompts (texts of one token per slot, none blank) differ."""
    return sum(x != y for x, y in zip(a.split(", "), b.split(", ")))


def test_min_diff_slots_gives_varied_prompts():
    vocab = Vocabulary({k: [t for t in v if t] for k, v in VOCAB.to_dict().items()})  # no blanks
    emb = HashingEmbedder(32)
    theta = np.random.default_rng(7).normal(size=32)
    plain = beam_search(theta, vocab, emb, n=4, beam=10)
    assert min(_slots_differ(a, b, vocab) for i, (a, _) in enumerate(plain) for b, _ in plain[i + 1 :]) == 1
    varied = beam_search(theta, vocab, emb, n=4, beam=10, min_diff_slots=2)
    texts = [t for t, _ in varied]
    assert len(texts) == 4 and texts[0] == plain[0][0]  # the best prompt stays first
    assert all(_slots_differ(a, b, vocab) >= 2 for i, a in enumerate(texts) for b in texts[i + 1 :])
    assert all(a[1] >= b[1] for a, b in zip(varied, varied[1:]))
    # the default is the plain top-n, unchanged
    assert beam_search(theta, vocab, emb, n=4, beam=10, min_diff_slots=0) == plain


def test_min_diff_slots_fills_up_when_too_few_qualify():
    vocab = Vocabulary({"a": ["x", "y"], "b": ["p", "q"]})
    emb = HashingEmbedder(16)
    theta = np.random.default_rng(1).normal(size=16)
    got = beam_search(theta, vocab, emb, n=4, beam=4, min_diff_slots=2)
    assert sorted(t for t, _ in got) == sorted(t for t, _ in beam_search(theta, vocab, emb, n=4, beam=4))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"n": 0}, "^n must be a positive integer, got 0$"),
        ({"n": -2}, "^n must be a positive integer, got -2$"),
        ({"beam": 0}, "^beam must be a positive integer, got 0$"),
        ({"beam": -1}, "^beam must be a positive integer, got -1$"),
        ({"min_diff_slots": -1}, "^min_diff_slots must be an integer ≥ 0, got -1$"),
    ],
)
def test_bad_sizes(kw, match):
    from edpbrl.errors import EdpbrlError

    with pytest.raises(EdpbrlError, match=match):
        beam_search(np.ones(16), VOCAB, HashingEmbedder(16), **kw)


def test_bad_theta():
    from edpbrl.errors import EdpbrlError

    emb = HashingEmbedder(16)
    with pytest.raises(EdpbrlError, match="^θ has 1 NaN or infinite entries$"):
        beam_search(np.r_[np.nan, np.ones(15)], VOCAB, emb)
    with pytest.raises(EdpbrlError, match="^θ has dimension 8, expected 16$"):
        beam_search(np.ones(8), VOCAB, emb)
    with pytest.raises(EdpbrlError, match="^θ must be numeric"):
        beam_search(np.array(["a"] * 16), VOCAB, emb)


class _MeanPooling:
    """A toy mean-pooling sentence encoder: x(text) = normalised mean of its words' vectors
    (correlated random vectors, as a transformer's outputs are) — the kind of encoder the pooled
    prediction is built for."""

    name, dim = "mean-pooling", 48

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.mu = self.rng.normal(size=self.dim)
        self.words: dict[str, np.ndarray] = {}

    def _word(self, w):
        if w not in self.words:
            self.words[w] = self.mu + 0.8 * self.rng.normal(size=self.dim)
        return self.words[w]

    def encode(self, texts):
        out = []
        for t in texts:
            v = np.mean([self._word(w.strip(",")) for w in t.split()], axis=0)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out)


def _long_vocab(seed):
    rng = np.random.default_rng(seed)
    return Vocabulary(
        {
            f"slot{h}": [" ".join(f"w{h}_{i}_{j}" for j in range(rng.integers(1, 5))) for i in range(6)]
            for h in range(4)
        }
    )


def test_pooled_prediction_ranks_extensions_better_than_additive():
    """Which extensions of a prefix score best: the pooled prediction (word-weighted normalised
    mean of the prefix's and the token's vectors) is exact for the first slot and ranks the
    extensions of longer prefixes far better than prefix score + token score does."""
    from scipy.stats import spearmanr

    from edpbrl.prompts import _pooled

    emb, vocab = _MeanPooling(), _long_vocab(0)
    rng = np.random.default_rng(1)
    rho = {"pooled": [], "additive": []}
    for _ in range(40):
        theta = rng.normal(size=emb.dim)
        toks = [vocab.slots[h].entries[rng.integers(6)] for h in range(3)]
        prefix = join_prompt(toks)
        F = emb.encode(list(vocab.slots[3].entries))
        additive = F @ theta
        x, s = emb.encode([prefix])[0], float(emb.encode([prefix])[0] @ theta)
        true = emb.encode([f"{prefix}, {t}" for t in vocab.slots[3].entries]) @ theta
        pooled = [
            _pooled(toks, s, {prefix: x}, F, additive, i, theta, t)
            for i, t in enumerate(vocab.slots[3].entries)
        ]
        rho["pooled"].append(spearmanr(pooled, true).statistic)
        rho["additive"].append(spearmanr(s + additive, true).statistic)
        # first slot: the prediction is the token's own (exact) score
        assert _pooled([], 0.0, {}, F, additive, 2, theta, vocab.slots[3].entries[2]) == pytest.approx(
            additive[2]
        )
    assert np.mean(rho["pooled"]) > 0.9 and np.mean(rho["pooled"]) > np.mean(rho["additive"]) + 0.05
    # a blank token keeps the prefix (and its score)
    assert _pooled(["a"], 0.3, {"a": np.ones(3)}, np.ones((1, 3)), np.ones(1), 0, np.ones(3), "") == 0.3


def test_pooled_beam_finds_better_prompts_with_few_candidates():
    """Beam search encoding 4 prefixes per slot: the pooled rule finds prompts at least as good as
    the additive rule on average over 20 tastes, for a mean-pooling encoder."""
    emb, vocab = _MeanPooling(3), _long_vocab(3)
    feats = [emb.encode(list(s.entries)) for s in vocab.slots]
    rng = np.random.default_rng(4)
    gain = []
    for _ in range(20):
        theta = rng.normal(size=emb.dim)
        best = {
            rule: beam_search(
                theta, vocab, emb, n=1, beam=3, shortlist=4, candidates=4, token_features=feats, predict=rule
            )[0][1]
            for rule in ("pooled", "additive")
        }
        gain.append(best["pooled"] - best["additive"])
    assert np.mean(gain) > 0
    with pytest.raises(Exception, match="predict must be one of"):
        beam_search(np.ones(emb.dim), vocab, emb, predict="magic")


def test_capped_beam_keeps_the_diversity_rule():
    """With few prefixes encoded per slot the last slot still offers varied full prompts: the 4
    returned differ pairwise in ≥ 2 slots (before, the capped beam encoded only extensions of the
    best prefixes and the rule fell back to near-duplicates), at ≤ candidates + n encodes there."""
    from tests.embed._helpers import CountingEmbedder

    emb, vocab = _MeanPooling(5), _long_vocab(5)
    feats = [emb.encode(list(s.entries)) for s in vocab.slots]
    counting = CountingEmbedder(emb)
    rng = np.random.default_rng(6)
    for _ in range(10):
        theta = rng.normal(size=emb.dim)
        counting.calls.clear()
        got = beam_search(
            theta,
            vocab,
            counting,
            n=4,
            beam=6,
            shortlist=6,
            candidates=4,
            token_features=feats,
            min_diff_slots=2,
        )
        parts = [t.split(", ") for t, _ in got]
        assert len(got) == 4
        assert all(
            sum(x != y for x, y in zip(a, b)) >= 2 for i, a in enumerate(parts) for b in parts[i + 1 :]
        )
        assert [len(c) for c in counting.calls[:-1]] == [4, 4, 4] and len(counting.calls[-1]) <= 8


def test_diverse_tries_other_first_picks_when_the_best_blocks_the_rest():
    """The best prompt differs from each other one in a single slot, while those differ pairwise in
    two: greedy from the best finds no varied set, greedy from the next one finds n of them."""
    from edpbrl.prompts import _diverse

    best = (["a", "b", "c"], 1.0)
    others = [(["x", "b", "c"], 0.9), (["a", "y", "c"], 0.8), (["a", "b", "z"], 0.7)]
    got = _diverse([best, *others], n=3, min_diff=2)
    assert got == others
    # when no start finds n, the largest varied set is filled up with the best remaining
    got = _diverse([best, (["a", "b", "z"], 0.5)], n=2, min_diff=2)
    assert [s for _, s in got] == [1.0, 0.5]
    assert _diverse([], n=2, min_diff=2) == []
