"""Every query strategy runs end to end through the Personalizer (hashing encoder, tiny vocab)."""

import dataclasses

import numpy as np
import pytest
import torch

from edpbrl.design.pool import info_factors
from edpbrl.errors import EdpbrlError
from edpbrl.personalizer import Personalizer
from edpbrl.strategies import STRATEGIES as METHODS
from edpbrl.strategies import AdaptiveDesignStrategy, make_strategy
from edpbrl.strategies.candidates import random_pool, surrogate_options
from edpbrl.users import LinearUser


def _session(vocab_dir, method, episodes=6, seed=0, strategy=None):
    p = Personalizer.default(
        k=3,
        episodes=episodes,
        method=method,
        seed=seed,
        vocabulary=str(vocab_dir),
        embedder="hashing",
        strategy=strategy,
    )
    user = LinearUser(np.random.default_rng(1).normal(size=p.dim), 5.0, seed=2)
    while (q := p.ask()) is not None:
        p.tell(q, user.choose(p.embedder.encode(q.options)))
    return p


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_end_to_end(tiny_vocab_dir, method):
    p = _session(tiny_vocab_dir, method)
    assert len(p._episodes) == 6
    sizes = p.vocabulary.sizes
    for ep in p._episodes:
        assert ep.shape == (3, p.vocabulary.horizon)
        for h, n in enumerate(sizes):
            assert ((0 <= ep[:, h]) & (ep[:, h] < n)).all()
    assert p.n_answered > 0
    assert np.isfinite(p.fit()).all()


POOL_METHODS = ["info-gain", "score-gain", "score-gain-encoded", "risk-gain-encoded"]  # adaptive, pool-based


def test_new_methods_registered():
    for m in ("ed-pbrl-adaptive", "dopt-pool", *POOL_METHODS):
        assert m in METHODS
    assert make_strategy("info-gain").adaptive and make_strategy("score-gain").adaptive
    assert make_strategy("ed-pbrl-adaptive").adaptive
    assert not make_strategy("dopt-pool").adaptive
    with pytest.raises(EdpbrlError):
        AdaptiveDesignStrategy(every=0)


@pytest.mark.parametrize("method", ["ed-pbrl-adaptive", *POOL_METHODS])
def test_adaptive_plans_depend_on_answers(tiny_vocab_dir, method):
    """Same seed, different answers → different later episodes (the strategy uses the data)."""
    runs = []
    for theta_seed in (0, 1):
        p = Personalizer.default(
            k=3,
            episodes=8,
            method=method,
            seed=0,
            vocabulary=str(tiny_vocab_dir),
            embedder="hashing",
        )
        user = LinearUser(np.random.default_rng(theta_seed).normal(size=p.dim) * 3, 20.0, seed=3)
        while (q := p.ask()) is not None:
            p.tell(q, user.choose(p.embedder.encode(q.options)))
        runs.append((np.stack(p._episodes), p.strategy))
    (ep0, s0), (ep1, s1) = runs
    # before any answer both plan the same first episode; later plans differ
    assert np.array_equal(ep0[0], ep1[0])
    if method in POOL_METHODS:
        assert not np.array_equal(ep0[5:], ep1[5:])
    else:  # the re-solved designs differ (the sampled tokens may coincide on a tiny vocab)
        assert torch.allclose(s0.static.weights, s1.static.weights)
        assert not torch.allclose(s0.design.weights, s1.design.weights, atol=1e-6)


@pytest.mark.parametrize("method", ["ed-pbrl-adaptive", *POOL_METHODS])
def test_adaptive_undo_across_episodes_plans_as_a_replay_does(tiny_vocab_dir, method):
    """An undo that drops planned episodes rewinds the strategy and its random generator: the
    session then asks exactly what a fresh one replaying the remaining answers asks (what a
    restored app session does), not questions from a state advanced by the dropped episodes."""

    def fresh():
        return Personalizer.default(
            k=3, episodes=8, method=method, seed=0, vocabulary=str(tiny_vocab_dir), embedder="hashing"
        )

    p = fresh()
    user = LinearUser(np.random.default_rng(0).normal(size=p.dim) * 3, 20.0, seed=3)
    per = p.questions_per_episode
    for _ in range(2 * per + 1):  # into the third episode
        q = p.ask()
        p.tell(q, user.choose(p.embedder.encode(q.options)))
    for _ in range(per + 2):  # back into the first episode: episodes 2 and 3 are dropped
        assert p.undo()
    assert len(p._episodes) == 1
    for _ in range(2 * per):  # on, with other answers this time
        q = p.ask()
        p.tell(q, (user.choose(p.embedder.encode(q.options)) + 1) % 3)
    replayed = fresh()
    for r in p.records:
        q = replayed.ask()
        assert q.options == r.query.options
        replayed.tell(q, r.choice)
    assert replayed.ask().options == p.ask().options
    assert all(np.array_equal(a, b) for a, b in zip(replayed._episodes, p._episodes, strict=True))


def test_adaptive_design_resolves_with_extra(tiny_vocab_dir):
    strat = AdaptiveDesignStrategy(every=2)
    p = _session(tiny_vocab_dir, "ed-pbrl-adaptive", episodes=6, strategy=strat)
    assert strat.resolves == 2  # blocks at episodes 0 (static), 2 and 4
    assert strat.static is not None and strat.design is not strat.static
    assert p.design is strat.design


def test_candidate_features_carry_the_questions_information(tiny_vocab_dir):
    p = Personalizer.default(
        k=3, episodes=2, method="random", vocabulary=str(tiny_vocab_dir), embedder="hashing"
    )
    cand = random_pool(p.ctx, 50)
    assert cand.shape == (50, 3, p.vocabulary.horizon)
    X = surrogate_options(p.mdp, cand)
    assert X.shape == (50, 3, p.vocabulary.horizon, p.dim)
    assert torch.allclose(X.norm(dim=-1), torch.ones((), dtype=X.dtype), atol=1e-9)
    # x̃ at step h is the normalised sum of the option's first h+1 token features
    tok = p.mdp.features[torch.as_tensor(cand[0, 1]) + p.mdp.offsets[:-1]]
    want = tok.cumsum(0) / tok.cumsum(0).norm(dim=1, keepdim=True)
    assert torch.allclose(X[0, 1], want)
    # U Uᵀ equals the θ-agnostic Fisher of the candidate's questions
    from edpbrl.design.information import query_fisher

    U = info_factors(X)
    F = query_fisher(X[0].permute(1, 0, 2))
    assert torch.allclose(U[0] @ U[0].T, F, atol=1e-10)


@pytest.mark.parametrize("method", ["ed-pbrl", "ed-pbrl-adaptive", "dopt-pool", *POOL_METHODS])
def test_single_entry_slot(tmp_path, method):
    """A fixed slot (one entry, like the paper's base subject) is kept at weight 1."""
    d = tmp_path / "v"
    d.mkdir()
    (d / "1_base.txt").write_text("a man drinking tea\n")
    (d / "2_style.txt").write_text("watercolor\noil painting\npixel art\nphotograph\n")
    (d / "3_light.txt").write_text("sunny\nmoonlit\nneon glow\ncandlelight\nfoggy\n")
    p = _session(d, method, episodes=4)
    assert all((ep[:, 0] == 0).all() for ep in p._episodes)
    if p.design is not None:
        assert torch.isfinite(p.design.weights).all()
        assert float(p.design.step_weights(0)[0]) == 1.0


def test_greedy_design_beats_sampling_from_the_same_design(tiny_vocab_dir):
    """Greedy rounding must realise more log det than i.i.d. episodes from the same design."""
    import torch

    from edpbrl.personalizer import Personalizer

    def logdet(p, eps):
        U = info_factors(surrogate_options(p.mdp, eps))  # (n, d, H·K)
        M = p.lam * torch.eye(p.dim, dtype=torch.float64) + torch.einsum("ndr,ner->de", U, U)
        return float(torch.logdet(M))

    g = Personalizer.default(
        vocabulary=tiny_vocab_dir, embedder="hashing:32", k=3, episodes=6, method="ed-pbrl-greedy", lam=0.1
    )
    s = Personalizer.default(
        vocabulary=tiny_vocab_dir, embedder="hashing:32", k=3, episodes=6, method="ed-pbrl-wor", lam=0.1
    )
    assert logdet(g, np.stack(g._episodes)) > logdet(s, np.stack(s._episodes))


def test_static_design_is_solved_once_for_concurrent_sessions(tiny_vocab_dir, monkeypatch):
    """Sessions created (or restored) at once wait for one solve of the shared static design."""
    import threading

    import edpbrl.strategies.design as design_mod
    from edpbrl.embed import load_embedder

    design_mod.clear_design_cache()
    calls = []
    real = design_mod.solve_design

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(design_mod, "solve_design", counting)
    emb = load_embedder("hashing:24")
    made = []

    def make(seed):
        made.append(
            Personalizer.default(
                k=3,
                episodes=3,
                seed=seed,
                method="ed-pbrl-rounded",
                vocabulary=str(tiny_vocab_dir),
                embedder=emb,
            )
        )

    threads = [threading.Thread(target=make, args=(s,)) for s in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 5 and len(calls) == 1
    assert len({id(p.design) for p in made}) == 1


def test_encoded_score_gain_scores_what_the_person_is_shown(tiny_vocab_dir):
    """The pool's features are the session encoder's encodings of the options' prefix texts (as the
    questions word them), each pool episode is asked at most once, and a context without an
    encoder gets a one-line error."""
    from edpbrl.strategies.candidates import encoded_options
    from edpbrl.strategies.info_gain import EncodedScoreGainStrategy

    p = _session(tiny_vocab_dir, "score-gain-encoded", episodes=6)
    s = p.strategy
    asked = [tuple(ep.ravel()) for ep in p._episodes]
    assert len(set(asked)) == len(asked) == 6
    pool = {tuple(c.ravel()) for c in s._cand}
    assert set(asked) <= pool and (~s._free).sum() == 6
    q = p._questions[0]
    ep = p._episodes[q.episode]
    want = np.stack([p.embedder.encode([p.vocabulary.prompt(ep[k, : q.step + 1])])[0] for k in range(p.k)])
    X = encoded_options(p.embedder.encode, p.vocabulary, ep[None])[0, :, q.step]
    np.testing.assert_allclose(X.numpy(), want)
    ctx = dataclasses.replace(p.ctx, encode=None)
    with pytest.raises(EdpbrlError, match="needs the learner's encoder"):
        EncodedScoreGainStrategy(pool=10).plan(ctx, 1)


def test_encoded_pool_is_built_once_per_vocabulary_and_encoder(tiny_vocab_dir):
    """Sessions on the same encoder and vocabulary share one encoded pool (read-only, built by one
    encoder pass); which pool episodes were asked stays each session's own; another K is another
    pool."""
    from edpbrl.embed import load_embedder

    emb = load_embedder("hashing:24")
    calls = []
    real = emb.encode

    def counting(texts):
        calls.append(len(texts))
        return real(texts)

    emb.encode = counting

    def session(k=3, answer=True):
        p = Personalizer.default(
            k=k, episodes=2, seed=0, method="score-gain-encoded", vocabulary=str(tiny_vocab_dir), embedder=emb
        )
        q = p.ask()
        if answer:
            p.tell(q, 0)
        return p

    a = session()
    built = sum(calls)
    b = session(answer=False)
    assert b.strategy._X is a.strategy._X and b.strategy.V is a.strategy.V
    assert sum(calls) - built < 10  # no second pass over the pool's prefixes (only the options asked)
    assert (~a.strategy._free).sum() == 1 and (~b.strategy._free).sum() == 1
    assert a.strategy._free is not b.strategy._free
    c = session(k=2, answer=False)
    assert c.strategy._X is not a.strategy._X and c.strategy._X.shape[1] == 2


def test_risk_gain_starts_as_score_gain_and_then_weighs_the_prior_pull(tiny_vocab_dir):
    """With spread 1 and no answer the criterion is the posterior score variance, so the first
    episode is score-gain-encoded's; the bias moment is P(γ δδᵀ + τ² H⁻¹)P − P with δ = θ̂ − m, m
    the prior's mean the context carries; the choice follows risk_gains on the pool; bad options
    get a one-line error."""
    from edpbrl.design.pool import risk_gains
    from edpbrl.prior import fit_prior
    from edpbrl.strategies.risk import RiskGainStrategy

    first = [
        _session(tiny_vocab_dir, "score-gain-encoded", episodes=1)._episodes[0],
        _session(
            tiny_vocab_dir, "risk-gain-encoded", episodes=1, strategy=RiskGainStrategy(spread=1.0)
        )._episodes[0],
    ]
    assert np.array_equal(*first)
    assert RiskGainStrategy().spread == 2.0 and RiskGainStrategy().bias_weight == 0.0  # the defaults
    rng = np.random.default_rng(0)
    prior = fit_prior(rng.normal(size=(6, 16)), [f"s{i}" for i in range(6)], embedder="hashing:16")
    p = Personalizer.default(
        k=3,
        episodes=4,
        method="risk-gain-encoded",
        vocabulary=str(tiny_vocab_dir),
        embedder="hashing:16",
        prior=prior,
    )
    user = LinearUser(rng.normal(size=p.dim), 5.0, seed=2)
    for _ in range(2):
        q = p.ask()
        p.tell(q, user.choose(p.embedder.encode(q.options)))
    p._sync_context()
    ctx, s = p.ctx, RiskGainStrategy(bias_weight=2.0, spread=3.0)
    m = torch.as_tensor(prior.theta_mean())
    assert torch.allclose(ctx.prior_mean, m)
    theta, H = ctx.model.theta, ctx.model.hessian
    P = ctx.prior_precision
    delta = theta - m
    want = P @ (2.0 * torch.outer(delta, delta) + 3.0 * torch.linalg.inv(H)) @ P - P
    D = s.bias_moment(ctx, theta, H)
    assert torch.allclose(D, want, rtol=1e-6, atol=1e-6 * float(want.abs().max()))
    s._setup(ctx)
    g = risk_gains(H, info_factors(s._X, theta), s.V.to(H.dtype), D)
    assert np.array_equal(s.plan(ctx, 1)[0], s._cand[int(torch.argmax(g))])
    for bad in ({"spread": -1}, {"bias_weight": float("nan")}, {"spread": True}):
        with pytest.raises(EdpbrlError, match="must be a finite number"):
            RiskGainStrategy(**bad)


def test_method_specs_set_a_strategys_own_options(tiny_vocab_dir):
    """NAME:key=value,... builds the strategy with those options and keeps the spec as its name (so
    a saved session restores it); unknown or malformed options are one-line errors, never ignored."""
    from edpbrl.strategies.registry import MethodChoices, check_method, method_help, parse_method

    s = make_strategy("risk-gain-encoded:spread=4,bias_weight=0.5,pool=50")
    assert (s.spread, s.bias_weight, s.pool, s.name) == (
        4.0,
        0.5,
        50,
        "risk-gain-encoded:spread=4,bias_weight=0.5,pool=50",
    )
    assert parse_method("random") == ("random", {}) and parse_method("x:a=true,b=t") == (
        "x",
        {"a": True, "b": "t"},
    )
    assert "risk-gain-encoded:spread=3" in MethodChoices() and "random" in list(MethodChoices())
    assert method_help("risk-gain-encoded:spread=3").endswith("(spread=3)")
    for bad, message in (
        (
            "risk-gain-encoded:sprad=4",
            "has no option 'sprad' \\(its options: pool, pool_seed, bias_weight, spread\\)",
        ),
        ("risk-gain-encoded:spread", "key=value separated by commas"),
        ("risk-gain-encoded:spread=1,spread=2", "given twice"),
        ("risk-gain-encoded:spread=-1", "spread must be a finite number"),
        ("nope:a=1", "unknown method 'nope'"),
    ):
        with pytest.raises(EdpbrlError, match=message):
            make_strategy(bad)
        assert bad not in MethodChoices()
    with pytest.raises(EdpbrlError, match="has no option"):
        check_method("random:pool=3")
    p = Personalizer.default(
        k=3,
        episodes=2,
        method="risk-gain-encoded:spread=3",
        vocabulary=str(tiny_vocab_dir),
        embedder="hashing",
    )
    q = p.ask()
    p.tell(q, 0)
    again = Personalizer.from_config(p.config)
    assert again.strategy.spread == 3.0 and again.method == "risk-gain-encoded:spread=3"


def _plan_of(vocab_dir, method, seed, episodes=6):
    p = Personalizer.default(
        k=3, episodes=episodes, method=method, seed=seed, vocabulary=str(vocab_dir), embedder="hashing"
    )
    return p, np.stack(p._episodes)


def test_question_bank_sessions_share_its_sets(tiny_vocab_dir):
    """bank=B: every session asks one of B question sets, the same sets for every session with
    this design; each set is a draw of the design's efficient rounding (the token counts per slot
    are the design's, as in a fresh draw)."""
    from edpbrl.design.sampling import efficient_rounding

    plans = [_plan_of(tiny_vocab_dir, "ed-pbrl-rounded:bank=4", seed)[1] for seed in range(24)]
    distinct = {p.tobytes() for p in plans}
    assert 2 <= len(distinct) <= 4  # 24 sessions, 4 sets: some drawn twice, never a fifth
    p, fresh = _plan_of(tiny_vocab_dir, "ed-pbrl-rounded", 0)
    p4, _ = _plan_of(tiny_vocab_dir, "ed-pbrl-rounded:bank=4", 0)
    sets = {p4.strategy.bank_plan(p4.ctx, b, 6).tobytes() for b in range(4)}
    assert distinct <= sets and len(sets) == 4
    assert fresh.tobytes() not in sets  # bank=0: a fresh draw (the seed's own), as before
    policies = p4.strategy.policies(p4.ctx)
    for plan in plans:
        for h, pi in enumerate(policies):
            counts = np.bincount(plan[:, :, h].ravel(), minlength=pi.size)
            np.testing.assert_array_equal(counts, efficient_rounding(pi, plan.shape[0] * 3))
    one = {_plan_of(tiny_vocab_dir, "ed-pbrl-rounded:bank=1", s)[1].tobytes() for s in range(5)}
    assert len(one) == 1


def test_question_bank_session_extends_and_restores(tiny_vocab_dir):
    """Episodes added after the bank's set are fresh draws; a session restored from its config
    and answers asks exactly the same questions."""
    p, plan = _plan_of(tiny_vocab_dir, "ed-pbrl-rounded:bank=8", 3, episodes=2)
    for _ in range(4):
        p.tell(p.ask(), 0)
    p.extend(3)
    assert len(p._episodes) == 5
    q = Personalizer.from_config({**p.config, "vocabulary": str(tiny_vocab_dir)}, embedder="hashing")
    for r in p.records:
        q.tell(q.ask(), r.choice)
    np.testing.assert_array_equal(np.stack(q._episodes), np.stack(p._episodes))
    assert q.ask() == p.ask()


@pytest.mark.parametrize("bank", ["-1", "1.5", "true", "many", "100001"])
def test_question_bank_rejects_bad_sizes(bank):
    with pytest.raises(EdpbrlError, match="bank must be an integer"):
        make_strategy(f"ed-pbrl-rounded:bank={bank}")
