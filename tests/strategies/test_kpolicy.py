"""The paper's ED-PBRL strategy: option q of every question follows policy q of the K-policy design."""

import numpy as np

from edpbrl import Personalizer
from edpbrl.design.result import KPolicyDesign
from edpbrl.design.sampling import efficient_rounding


def _p(vocab, method, k=3, episodes=12, seed=0):
    return Personalizer.default(
        k=k, episodes=episodes, method=method, seed=seed, vocabulary=str(vocab), embedder="hashing:16"
    )


def test_options_follow_their_own_policies(tiny_vocab_dir):
    p = _p(tiny_vocab_dir, "ed-pbrl")
    des = p.design
    assert isinstance(des, KPolicyDesign) and des.k == 3
    cert = p.certificate
    assert cert["optimality"] == "stationary" and cert["objective"] <= cert["upper_bound"]
    eps = np.stack(p._episodes)  # (T, K, H)
    for q in range(3):
        for h in range(p.vocabulary.horizon):
            pi = des.policy_weights(q, h).numpy()
            assert (pi[eps[:, q, h]] > 0).all()  # every token option q shows is in policy q's support


def test_rounded_policies_realise_each_policys_frequencies(tiny_vocab_dir):
    p = _p(tiny_vocab_dir, "ed-pbrl-policies-rounded", episodes=20)
    des, eps = p.design, np.stack(p._episodes)
    for q in range(3):
        for h in range(p.vocabulary.horizon):
            pi = des.policy_weights(q, h).numpy()
            counts = np.bincount(eps[:, q, h], minlength=pi.size)
            assert (counts == efficient_rounding(pi / pi.sum(), 20)).all()


def test_the_design_depends_on_k_and_is_shared_across_sessions(tiny_vocab_dir):
    a, b, c = (
        _p(tiny_vocab_dir, "ed-pbrl", k=3),
        _p(tiny_vocab_dir, "ed-pbrl", k=3, seed=5),
        _p(tiny_vocab_dir, "ed-pbrl", k=4),
    )
    assert a.design is b.design  # θ-agnostic: solved once, cached
    assert c.design.k == 4 and c.design is not a.design
    assert [q.options for q in a._questions] != [q.options for q in b._questions]  # seeds still differ


def test_static_designs_are_kept_on_disk(tiny_vocab_dir, tmp_path, monkeypatch):
    from edpbrl.strategies import clear_design_cache
    from edpbrl.strategies.design import design_cache_dir

    assert design_cache_dir() == tmp_path / "designcache"
    clear_design_cache()  # designs other tests left in memory were never written to this directory
    for method in ("ed-pbrl", "ed-pbrl-mixture"):
        a = _p(tiny_vocab_dir, method)
        clear_design_cache()  # a new process: only the disk copy is left
        b = _p(tiny_vocab_dir, method)
        assert b.design is not a.design
        assert b.certificate == a.certificate  # loaded, not solved again (same seconds, history)
        assert np.array_equal(b.design.weights.numpy(), a.design.weights.numpy())
        assert [q.options for q in b._questions] == [q.options for q in a._questions]
    assert len(list((tmp_path / "designcache").glob("*.pt"))) == 2
    monkeypatch.setenv("EDPBRL_DESIGN_CACHE_DIR", "off")
    assert design_cache_dir() is None
    clear_design_cache()
    c = _p(tiny_vocab_dir, "ed-pbrl-mixture")
    assert c.design is not b.design and c.certificate["seconds"] != b.certificate["seconds"]  # solved anew
    assert len(list((tmp_path / "designcache").glob("*.pt"))) == 2  # and not written
