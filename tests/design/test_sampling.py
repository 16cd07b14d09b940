"""From design weights to query sets: rounding and sampling."""

import numpy as np
import pytest

from edpbrl.design.sampling import efficient_rounding, sample_episodes
from edpbrl.errors import DesignError


def test_efficient_rounding_sums_and_tracks_weights():
    w = np.array([0.5, 0.3, 0.2, 0.0])
    c = efficient_rounding(w, 20)
    assert c.sum() == 20 and c[3] == 0
    assert np.abs(c / 20 - w).max() <= 0.1


def test_without_replacement_options_distinct():
    pols = [np.array([0.7, 0.1, 0.1, 0.1, 0.0]), np.ones(6)]
    ep = sample_episodes(pols, 3, 50, "without-replacement", np.random.default_rng(0))
    assert ep.shape == (50, 3, 2)
    for t in range(50):
        assert len(set(ep[t, :, 0])) == 3


def test_efficient_allocation_matches_rounding():
    p = np.array([0.5, 0.25, 0.25, 0.0])
    ep = sample_episodes([p], 2, 10, "efficient", np.random.default_rng(1))
    counts = np.bincount(ep[:, :, 0].ravel(), minlength=4)
    assert counts.tolist() == efficient_rounding(p, 20).tolist()
    assert all(ep[t, 0, 0] != ep[t, 1, 0] for t in range(10))


def test_iid_matches_distribution():
    p = np.array([0.6, 0.3, 0.1])
    ep = sample_episodes([p], 4, 5000, "iid", np.random.default_rng(2))
    freq = np.bincount(ep.ravel(), minlength=3) / ep.size
    assert np.allclose(freq, p, atol=0.02)


def test_sampling_errors():
    with pytest.raises(DesignError, match="unknown rounding"):
        sample_episodes([np.ones(3)], 2, 1, "magic")
    with pytest.raises(DesignError, match="larger than step"):
        sample_episodes([np.ones(3)], 4, 1, "without-replacement")
    with pytest.raises(DesignError, match="no positive mass"):
        sample_episodes([np.zeros(3)], 2, 1, "iid")


def test_round_atoms():
    from edpbrl.design.sampling import round_atoms

    out = round_atoms({"a": 0.5, "b": 0.49, "c": 0.01}, 10)
    assert sum(out.values()) == 10 and out["a"] == 5
    with pytest.raises(DesignError, match="no atoms"):
        round_atoms({}, 3)


def test_policy_episodes_shapes_and_errors():
    from edpbrl.design.sampling import sample_policy_episodes

    rng = np.random.default_rng(0)
    pols = [[np.array([1.0, 0, 0]), np.array([0.5, 0.5])], [np.array([0, 0, 1.0]), np.array([0, 1.0])]]
    out = sample_policy_episodes(pols, 7, "iid", rng)
    assert out.shape == (7, 2, 2)
    assert (out[:, 0, 0] == 0).all() and (out[:, 1, 0] == 2).all() and (out[:, 1, 1] == 1).all()
    eff = sample_policy_episodes(pols, 8, "efficient", rng)
    assert np.bincount(eff[:, 0, 1], minlength=2).tolist() == [4, 4]
    with pytest.raises(DesignError, match="unknown rounding"):
        sample_policy_episodes(pols, 2, "magic", rng)
    with pytest.raises(DesignError, match="K must be at least 2"):
        sample_policy_episodes(pols[:1], 2, "iid", rng)
    with pytest.raises(DesignError, match="one distribution per step"):
        sample_policy_episodes([pols[0], pols[1][:1]], 2, "iid", rng)
