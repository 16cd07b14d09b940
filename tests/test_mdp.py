"""The MDPs whose trajectories are queries: visitation, the planning oracle, sampling and input
checks, against independent references (Monte Carlo rollouts, enumeration of policies)."""

import itertools

import numpy as np
import pytest
import torch

from edpbrl.design.domain import DesignDomain
from edpbrl.embed import HashingEmbedder
from edpbrl.errors import DesignError
from edpbrl.mdp import PromptMDP, TabularMDP
from edpbrl.vocab import Vocabulary


def _tabular(seed=0, S=3, A=2, H=3, d=2, valid=None):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) ** 2
    P /= P.sum(2, keepdims=True)
    rho = rng.random(S)
    rho /= rho.sum()
    return TabularMDP(P, rho, H, rng.normal(size=(H, S, A, d)), valid), P, rho


def test_both_mdps_are_design_domains(tiny_vocab):
    mdp, _, _ = _tabular()
    assert isinstance(mdp, DesignDomain) and not mdp.product_of_simplices
    p = PromptMDP.from_embedder(tiny_vocab, HashingEmbedder(8))
    assert isinstance(p, DesignDomain) and p.product_of_simplices


def test_visitation_matches_monte_carlo_rollouts():
    mdp, _, _ = _tabular(seed=3)
    rng = np.random.default_rng(0)
    pi = torch.as_tensor(rng.dirichlet(np.ones(2), size=(3, 3)))  # (H, S, A) stochastic
    d = mdp.visitation(pi).numpy()
    np.testing.assert_allclose(d.reshape(3, -1).sum(1), 1.0)
    traj = mdp.sample(pi, 40_000, np.random.default_rng(1))  # (n, H, 2)
    for h in range(3):
        freq = np.zeros((3, 2))
        np.add.at(freq, (traj[:, h, 0], traj[:, h, 1]), 1.0)
        np.testing.assert_allclose(freq / len(traj), d[h], atol=0.01)


def test_best_response_is_the_best_deterministic_policy_by_enumeration():
    mdp, _, _ = _tabular(seed=5, S=2, A=2, H=3)
    reward = torch.as_tensor(np.random.default_rng(2).normal(size=mdp.features.shape[0]))
    vid, v = mdp.best_response(reward)
    best = max(
        float(reward @ mdp.vertex_visitation(pol))
        for pol in itertools.product(range(2), repeat=3 * 2)  # one action per (h, s)
    )
    assert float(reward @ v) == pytest.approx(best)
    assert torch.equal(mdp.vertex_visitation(vid), v)


def test_policy_from_visitation_reproduces_a_mixture_of_vertices():
    mdp, _, _ = _tabular(seed=7)
    rng = np.random.default_rng(3)
    verts = [tuple(rng.integers(2, size=9).tolist()) for _ in range(4)]
    lam = rng.dirichlet(np.ones(4))
    d = sum(float(a) * mdp.vertex_visitation(v) for a, v in zip(lam, verts))
    pi = mdp.policy_from_visitation(d)
    torch.testing.assert_close(mdp.visitation(pi).flatten(), d)


def test_invalid_actions_are_never_chosen():
    valid = np.array([[True, False], [True, True], [False, True]])
    mdp, _, _ = _tabular(seed=1, valid=valid)
    reward = torch.full((mdp.features.shape[0],), 5.0)  # every action equally good
    _, v = mdp.best_response(reward)
    assert float(v.reshape(3, 3, 2)[:, ~torch.as_tensor(valid)].abs().sum()) == 0.0
    u = mdp.uniform().reshape(3, 3, 2)
    assert float(u[:, ~torch.as_tensor(valid)].abs().sum()) == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"P": np.full((3, 2, 3), 0.5)}, "sum to one"),
        ({"rho": np.array([0.5, 0.6, -0.1])}, "probability vector"),
        ({"features": np.zeros((2, 3, 2, 2))}, "features must be"),
        ({"features": np.full((3, 2, 2), np.nan)}, "NaN"),
        ({"valid": np.zeros((3, 2), bool)}, "valid action"),
    ],
)
def test_tabular_input_errors(kwargs, match):
    P = np.full((3, 2, 3), 1 / 3)
    args = {"P": P, "rho": np.ones(3) / 3, "features": np.zeros((3, 2, 2)), "valid": None}
    args.update(kwargs)
    with pytest.raises(DesignError, match=match):
        TabularMDP(args["P"], args["rho"], 3, args["features"], args["valid"])


def test_prompt_mdp_rows_oracle_and_policies(tiny_vocab):
    emb = HashingEmbedder(8)
    mdp = PromptMDP.from_embedder(tiny_vocab, emb)
    sizes = tiny_vocab.sizes
    assert mdp.offsets.tolist() == list(np.cumsum([0, *sizes]))
    np.testing.assert_allclose(
        mdp.slot_features(1).numpy(), emb.encode(list(tiny_vocab[1].entries)).astype(np.float64)
    )
    u = mdp.uniform()
    for h in range(len(sizes)):
        assert float(u[mdp.offsets[h] : mdp.offsets[h + 1]].sum()) == pytest.approx(1.0)
    reward = torch.as_tensor(np.random.default_rng(0).normal(size=sum(sizes)))
    vertex, v = mdp.best_response(reward)
    for h in range(len(sizes)):
        seg = reward[mdp.offsets[h] : mdp.offsets[h + 1]]
        assert vertex[h] == int(seg.argmax())
    assert float(v.sum()) == len(sizes)
    pis = mdp.policy_from_visitation(0.5 * v + 0.5 * u)
    for h, p in enumerate(pis):
        assert float(p.sum()) == pytest.approx(1.0)
        assert int(p.argmax()) == vertex[h]


def test_describe_weights_lists_the_heaviest_tokens(tiny_vocab):
    mdp = PromptMDP.from_embedder(tiny_vocab, HashingEmbedder(8))
    w = torch.zeros(mdp.features.shape[0], dtype=torch.float64)
    for h in range(tiny_vocab.horizon):
        w[mdp.offsets[h] + 1] = 0.75
        w[mdp.offsets[h] + 2] = 0.25
    rows = mdp.describe_weights(w, top=2)
    assert [r["slot"] for r in rows] == tiny_vocab.names
    for r, slot in zip(rows, tiny_vocab.slots):
        assert r["support"] == 2
        assert r["top"] == [[slot.entries[1], 0.75], [slot.entries[2], 0.25]]


def test_prompt_mdp_input_errors():
    v = Vocabulary({"a": ["x", "y"], "b": ["z", "w", "q"]})
    with pytest.raises(DesignError, match="one feature matrix per slot"):
        PromptMDP(v, [np.zeros((2, 3))])
    with pytest.raises(DesignError, match="must be \\(3, d\\)"):
        PromptMDP(v, [np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(DesignError, match="same dimension"):
        PromptMDP(v, [np.zeros((2, 3)), np.zeros((3, 4))])
    with pytest.raises(DesignError, match="NaN"):
        PromptMDP(v, [np.zeros((2, 3)), np.full((3, 3), np.inf)])


def test_shared_prompt_mdp_is_built_once_per_encoder_and_vocabulary(tiny_vocab):
    import threading

    from tests.embed._helpers import CountingEmbedder

    enc = CountingEmbedder(HashingEmbedder(8))
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(PromptMDP.shared(tiny_vocab, enc))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in got}) == 1 and len(enc.calls) == tiny_vocab.horizon  # one build
    other = Vocabulary({"a": ["x", "y"], "b": ["z", "w"]})
    assert PromptMDP.shared(other, enc) is not got[0]
    assert PromptMDP.shared(Vocabulary(tiny_vocab.to_dict()), enc) is got[0]  # same content
    assert PromptMDP.shared(tiny_vocab, CountingEmbedder(HashingEmbedder(8))) is not got[0]
