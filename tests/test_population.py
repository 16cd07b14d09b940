"""A population prior with the people who shared their taste: opt-in through the app, the prior
from the store (``edpbrl.population``) and ``edpbrl prior fit --db``."""

from __future__ import annotations

import numpy as np
import pytest

from edpbrl.embed import load_embedder
from edpbrl.errors import EdpbrlError
from edpbrl.personalizer import Personalizer
from edpbrl.population import prior_from_store, shared_tastes
from edpbrl.prior import Prior, prior_from_styles
from edpbrl.store import open_store


def _session(store, vocab_dir, *, words, share, answers, seed):
    """A stored session answered ``answers`` times (as the app stores one)."""
    p = Personalizer.default(k=3, episodes=3, vocabulary=str(vocab_dir), embedder="hashing:16", seed=seed)
    sid = store.create_session(style=words, k=3, episodes=3, share=share)
    store.set_design(sid, config=p.config, certificate=None, n_questions=p.n_questions, seconds=0.0)
    rng = np.random.default_rng(seed)
    for _ in range(answers):
        q = p.ask()
        row = store.open_question(
            sid, idx=q.index, episode=q.episode, step=q.step, slot=q.slot,
            options=list(q.options), display_order=[0, 1, 2], seeds=[0, 0, 0],
        )  # fmt: skip
        c = int(rng.integers(3))
        store.record_answer(sid, row["id"], action="choose", choice=c, position=c)
        p.tell(q, c)
    return sid, p


def _styles(tmp_path, n=3):
    d = tmp_path / "styles"
    d.mkdir()
    for i in range(n):
        (d / f"style_{i}.txt").write_text(
            "\n".join(f"An image of thing {i} seen {j} times" for j in range(4))
        )
    return sorted(d.glob("*.txt"))


def test_only_shared_sessions_with_enough_answers_join(tmp_path, tiny_vocab_dir):
    store = open_store(tmp_path / "s.db")
    emb = load_embedder("hashing:16")
    shared, p = _session(store, tiny_vocab_dir, words="foggy harbour", share=True, answers=6, seed=1)
    _session(store, tiny_vocab_dir, words="private", share=False, answers=6, seed=2)
    _session(store, tiny_vocab_dir, words="", share=True, answers=2, seed=3)  # too few answers
    quiet, _ = _session(store, tiny_vocab_dir, words="", share=True, answers=5, seed=4)
    got = shared_tastes(store, emb, min_answers=5)
    assert [m["words"] for m in got] == ["foggy harbour", ""]
    np.testing.assert_allclose(got[0]["theta"], p.fit())  # the estimate the person saw
    files = _styles(tmp_path)
    prior = prior_from_store(store, emb, styles=files, scale=10.0)
    assert len(prior.names) == 5 and prior.names[3].startswith("session ")
    np.testing.assert_allclose(prior.population[3], p.fit() / 10.0)  # on the style files' scale
    only_styles = prior_from_styles(files, emb)
    np.testing.assert_allclose(prior.population[:3], only_styles.population)
    with pytest.raises(EdpbrlError, match="at least 2 members: 0 style files and 1 shared sessions"):
        prior_from_store(store, emb, min_answers=6)
    with pytest.raises(EdpbrlError, match="was encoded with hashing:16, the prior with hashing:32"):
        shared_tastes(store, load_embedder("hashing:32"))
    assert quiet in store.shared_session_ids()


def test_prior_fit_from_the_store(tmp_path, tiny_vocab_dir, capsys):
    from tests.cli.test_errors import run

    store = open_store(tmp_path / "s.db")
    for seed in range(3):
        _session(store, tiny_vocab_dir, words=f"taste {seed}", share=True, answers=5, seed=seed)
    out = tmp_path / "p.npz"
    code, err, text = run(
        ["prior", "fit", "--db", str(tmp_path / "s.db"), "--embedder", "hashing:16", "--out", str(out)],
        capsys,
    )
    assert code == 0, err
    prior = Prior.load(out)
    assert len(prior.names) == 3 and all(n.startswith("session ") for n in prior.names)
