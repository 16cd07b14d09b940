"""The Store contract (edpbrl/store/base.py), run against every backend in conftest.BACKENDS."""

from __future__ import annotations

import threading
import time

import pytest

from edpbrl.store import ACTIONS, AlreadyAnswered, Store, StoreError, open_store


def _question(store, sid, idx=0, options=("a", "b", "c")):
    return store.open_question(
        sid,
        idx=idx,
        episode=0,
        step=idx,
        slot="subject",
        options=list(options),
        display_order=[2, 0, 1],
        seeds=[1, 2, 3],
    )


def test_is_a_store(store):
    assert isinstance(store, Store)
    assert isinstance(store.url, str) and store.url


def test_session_lifecycle(store):
    sid = store.create_session(style="misty", k=3, episodes=2)
    row = store.get_session(sid)
    assert row["status"] == "designing" and row["config"] is None and row["extensions"] == []
    assert (row["style"], row["k"], row["episodes"]) == ("misty", 3, 2)
    assert isinstance(row["image_seed"], int) and 0 <= row["image_seed"] < 2**31
    store.set_design(sid, config={"k": 3}, certificate={"gap": 0.1}, n_questions=6, seconds=0.5)
    row = store.get_session(sid)
    assert row["status"] == "ready" and row["config"] == {"k": 3} and row["certificate"]["gap"] == 0.1
    assert row["n_questions"] == 6 and row["design_seconds"] == 0.5
    store.add_extension(sid, episodes=2, after=4, n_questions=12)
    store.add_extension(sid, episodes=1, after=5, n_questions=15)
    row = store.get_session(sid)
    assert row["extensions"] == [{"episodes": 2, "after": 4}, {"episodes": 1, "after": 5}]
    assert row["n_questions"] == 15
    store.set_status(sid, "error", "boom")
    assert store.get_session(sid)["error"] == "boom"
    assert store.get_session("nope") is None
    with pytest.raises(StoreError, match="unknown session"):
        store.add_extension("nope", episodes=1, after=0, n_questions=1)


def test_session_ids_are_unguessable_and_listed_oldest_first(store):
    sids = [store.create_session(style="", k=2, episodes=1) for _ in range(3)]
    assert len(set(sids)) == 3 and all(len(s) >= 32 for s in sids)
    assert [s for s in store.session_ids() if s in sids] == sids


def test_answers_are_unique_per_question_and_undo_keeps_history(store):
    sid = store.create_session(style="", k=3, episodes=1)
    q = _question(store, sid)
    assert _question(store, sid)["id"] == q["id"]  # reused while unanswered
    store.record_answer(sid, q["id"], action="choose", choice=2, position=0)
    with pytest.raises(AlreadyAnswered):
        store.record_answer(sid, q["id"], action="choose", choice=0, position=1)
    with pytest.raises(StoreError, match="unknown question"):
        store.record_answer(sid, "missing", action="skip")
    other = store.create_session(style="", k=3, episodes=1)
    with pytest.raises(StoreError, match="unknown question"):
        store.record_answer(other, q["id"], action="skip")  # another session's question
    assert store.get_question(other, q["id"]) is None
    undone = store.undo_last(sid)
    assert undone["question_id"] == q["id"] and undone["undone_at"] is not None
    assert undone == store.answers(sid)[0]  # the answer row, joined with its question
    assert store.undo_last(sid) is None
    q2 = _question(store, sid)
    assert q2["id"] == q["id"] and q2["times_shown"] == 2  # the same shown question comes back
    store.record_answer(sid, q["id"], action="no_preference")
    live, every = store.live_answers(sid), store.answers(sid)
    assert [a["action"] for a in live] == ["no_preference"] and len(every) == 2
    assert store.live_answer_ids(sid) == [a["id"] for a in live] != [a["id"] for a in every]
    assert store.live_answer_ids(other) == [] and store.live_answer_ids("no-such-session") == []
    assert live[0]["options"] == ["a", "b", "c"] and live[0]["display_order"] == [2, 0, 1]
    assert every[0]["choice"] == 2 and every[0]["position"] == 0 and every[0]["undone_at"] is not None
    # a new question after an answer gets a new row
    time.sleep(0.001)
    q3 = _question(store, sid, idx=1)
    assert q3["id"] != q["id"] and [x["id"] for x in store.questions(sid)] == [q["id"], q3["id"]]


def test_one_live_answer_per_question_index(store):
    """Two shown rows of one question index (options changed in between): only one live answer."""
    sid = store.create_session(style="", k=3, episodes=1)
    first = _question(store, sid, idx=0)
    second = _question(store, sid, idx=0, options=("a", "b", "d"))
    assert second["id"] != first["id"]
    store.record_answer(sid, first["id"], action="skip")
    with pytest.raises(AlreadyAnswered):
        store.record_answer(sid, second["id"], action="skip")
    store.undo_last(sid)
    store.record_answer(sid, second["id"], action="choose", choice=0, position=1)
    assert [a["question_id"] for a in store.live_answers(sid)] == [second["id"]]


def test_touch_question_counts_showings(store):
    sid = store.create_session(style="", k=3, episodes=1)
    q = _question(store, sid)
    store.touch_question(q["id"])
    store.touch_question(q["id"])
    row = store.get_question(sid, q["id"])
    assert row["times_shown"] == 3 and row["last_shown_at"] >= row["shown_at"]


def test_unknown_actions_are_refused(store):
    sid = store.create_session(style="", k=3, episodes=1)
    q = _question(store, sid)
    with pytest.raises(StoreError, match="unknown answer action"):
        store.record_answer(sid, q["id"], action="maybe")
    assert store.answers(sid) == [] and set(ACTIONS) == {"choose", "skip", "no_preference"}


def test_exactly_one_of_concurrent_answers_wins(store):
    sid = store.create_session(style="", k=3, episodes=1)
    q = _question(store, sid)
    results, barrier = [], threading.Barrier(8)

    def submit(i):
        barrier.wait()
        try:
            store.record_answer(sid, q["id"], action="choose", choice=i % 3, position=0)
            results.append("ok")
        except AlreadyAnswered:
            results.append("dup")

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["dup"] * 7 + ["ok"]
    assert len(store.live_answers(sid)) == 1


def test_writes_are_visible_to_a_fresh_connection(store):
    """Committed before returning: another store opened on the same URL sees every write."""
    sid = store.create_session(style="durable", k=3, episodes=1)
    q = _question(store, sid)
    store.record_answer(sid, q["id"], action="choose", choice=1, position=2)
    again = open_store(store.url, create=False)
    assert again.get_session(sid)["style"] == "durable"
    assert [a["choice"] for a in again.live_answers(sid)] == [1]


def test_images(store):
    sid = store.create_session(style="", k=2, episodes=1)
    store.record_image(sid, prompt="p", seed=1, model_id="m", path="/x.png")
    store.record_image(sid, prompt="p", seed=1, model_id="m", path="/x.png")
    assert store.images(sid) == {("p", 1): "/x.png"}


def test_sharing_a_taste_is_opt_in(store):
    """A session shares its estimated taste only when its person says so; the choice can change."""
    quiet = store.create_session(style="", k=2, episodes=1)
    sharing = store.create_session(style="warm", k=2, episodes=1, share=True)
    assert store.get_session(quiet)["share"] is False and store.get_session(sharing)["share"] is True
    shared = [s for s in store.shared_session_ids() if s in (quiet, sharing)]
    assert shared == [sharing]
    store.set_share(quiet, True)
    store.set_share(sharing, False)
    assert [s for s in store.shared_session_ids() if s in (quiet, sharing)] == [quiet]
    assert open_store(store.url, create=False).get_session(quiet)["share"] is True  # durable
    with pytest.raises(StoreError, match="unknown session"):
        store.set_share("nope", True)
