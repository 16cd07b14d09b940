"""Rebuilding a personalizer from stored answers."""

from __future__ import annotations

import pytest

from edpbrl import Personalizer
from edpbrl.errors import SessionError
from edpbrl.replay import ReplayError, replay, restore
from edpbrl.store import open_store


def test_replay_detects_mismatch(tiny_vocab_dir):
    p = Personalizer.default(k=3, episodes=1, vocabulary=str(tiny_vocab_dir), embedder="hashing")
    q = p.ask()
    replay(p, [{"options": q.options, "idx": 0, "action": "choose", "choice": 1}])
    assert p.n_answered == 1
    with pytest.raises(ReplayError, match="does not match"):
        replay(p, [{"options": ["nope"], "idx": 1, "action": "skip", "choice": None}])


def test_restore_reproduces_answers_and_extensions(tiny_vocab_dir, tmp_path):
    p = Personalizer.default(k=3, episodes=1, vocabulary=str(tiny_vocab_dir), embedder="hashing", seed=4)
    store = open_store(tmp_path / "r.db")
    sid = store.create_session(style="", k=3, episodes=1)
    with pytest.raises(SessionError, match="no design yet"):
        restore(store, sid)
    # the design's config is stored when it is made, before any answer or extension (as the app does)
    store.set_design(sid, config=dict(p.config), certificate=None, n_questions=p.n_questions, seconds=0.0)
    actions = iter([("choose", 2), ("no_preference", None), ("skip", None)])
    while (q := p.ask()) is not None:
        action, choice = next(actions, ("choose", 0))
        row = store.open_question(
            sid, idx=q.index, episode=q.episode, step=q.step, slot=q.slot, options=q.options,
            display_order=[0, 1, 2], seeds=[0, 0, 0],
        )  # fmt: skip
        store.record_answer(sid, row["id"], action=action, choice=choice, position=choice)
        if action == "skip":
            p.skip(q)
        else:
            p.tell(q, choice)
        if q.index == 0:
            p.extend(1)
            store.add_extension(sid, episodes=1, after=1, n_questions=p.n_questions)
    again = restore(store, sid)
    assert again.episodes == 2 and again.n_answered == p.n_answered and again.ask() is None
    assert [r.kind for r in again.records] == [r.kind for r in p.records]
    assert (again.fit() == p.fit()).all()
