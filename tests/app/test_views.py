"""The app's view functions without HTTP: an AppContext over a real store and live sessions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the app tests need the 'app' extra (fastapi)")

import edpbrl.app  # noqa: E402
from edpbrl.app import views  # noqa: E402
from edpbrl.app.context import AppContext  # noqa: E402
from edpbrl.app.sessions import ConflictError, Runtime, SessionManager  # noqa: E402
from edpbrl.export import FORMATS  # noqa: E402
from edpbrl.render import ImageCache  # noqa: E402
from edpbrl.store import open_store  # noqa: E402

TEMPLATES = Path(edpbrl.app.__file__).parent / "templates"


class FakeGenerator:
    model_id = "fake:v1"

    def render(self, prompt, seed):
        from PIL import Image

        return Image.new("RGB", (8, 8), (seed & 255, 0, 0))


def make_ctx(tmp_path: Path, tiny_vocab_dir: Path, generator=None) -> AppContext:
    from fastapi.templating import Jinja2Templates

    store = open_store(tmp_path / "x.db")
    manager = SessionManager(store, vocab=str(tiny_vocab_dir), embedder="hashing", k=3, episodes=2)
    return AppContext(
        store=store,
        manager=manager,
        generator=generator,
        cache=ImageCache(tmp_path / "images"),
        templates=Jinja2Templates(directory=str(TEMPLATES)),
    )


def wait_ready(rt: Runtime, timeout: float = 20.0) -> Runtime:
    deadline = time.monotonic() + timeout
    while rt.state in ("designing", "loading"):
        assert time.monotonic() < deadline, f"session still {rt.state}: {rt.progress}"
        time.sleep(0.01)
    assert rt.state == "ready", rt.error
    return rt


@pytest.fixture
def ctx(tmp_path, tiny_vocab_dir) -> AppContext:
    return make_ctx(tmp_path, tiny_vocab_dir)


def new_session(ctx: AppContext, style: str = "calm sea") -> Runtime:
    return wait_ready(ctx.manager.create(style=style, k=3, episodes=2))


def test_state_of_a_new_session(ctx):
    rt = new_session(ctx)
    s = views.session_state(ctx, rt)
    assert s["id"] == rt.sid and s["style"] == "calm sea" and s["k"] == 3
    assert s["state"] == "asking" and s["error"] is None and s["images"] is False
    assert s["n_answered"] == 0 and s["n_events"] == 0 and s["can_undo"] is False
    assert s["show_summary"] is False and s["summary_every"] == 3
    assert s["n_questions"] == rt.p.n_questions >= 3 and s["certificate"]["relative_gap"] <= 1e-4
    q = s["question"]
    assert q["index"] == 0 and q["number"] == 1 and q["total"] == s["n_questions"]
    shown = ctx.store.get_question(rt.sid, q["id"])
    assert [o["position"] for o in q["options"]] == list(range(len(shown["display_order"])))
    assert [o["text"] for o in q["options"]] == [shown["options"][i] for i in shown["display_order"]]
    assert 2 <= len(q["options"]) <= 3 and all(o["image"] is None for o in q["options"])
    # asking again shows the same question (the open row is reused)
    assert views.session_state(ctx, rt)["question"] == q


def test_ready_always_comes_with_the_designed_row(ctx, monkeypatch):
    """A state read while the design is being recorded must not say "ready" with the row from
    before the design (no certificate), nor cache that old row (a race once seen in CI)."""
    store = ctx.store
    sid = store.create_session(style="calm", k=3, episodes=2)
    rt = Runtime(sid=sid)
    cert = {"converged": True, "relative_gap": 1e-5}
    read = store.get_session

    def read_then_finish_design(s):
        row = read(s)  # the row as it was: no config, no certificate
        if rt.state == "designing":  # the design thread records and finishes right after the read
            store.set_design(sid, config={"k": 3}, certificate=cert, n_questions=6, seconds=0.1)
            rt.forget_row()
            rt.finish("ready")
        return row

    monkeypatch.setattr(store, "get_session", read_then_finish_design)
    first = views.session_state(ctx, rt)
    assert first["state"] == "designing" and first["certificate"] is None
    assert rt.row is None  # the row read before the design was not cached
    second = views.session_state(ctx, rt)
    assert second["certificate"] == cert and second["n_questions"] == 6


def test_a_row_read_before_a_change_is_not_cached(ctx, monkeypatch):
    store = ctx.store
    sid = store.create_session(style="calm", k=3, episodes=2)
    store.set_design(sid, config={"k": 3}, certificate=None, n_questions=6, seconds=0.1)
    rt = Runtime(sid=sid, state="ready")
    read = store.get_session

    def read_then_share(s):
        row = read(s)
        store.set_share(sid, True)  # another request changes the row right after this read
        rt.forget_row()
        return row

    monkeypatch.setattr(store, "get_session", read_then_share)
    assert ctx.manager.session_row(rt)["share"] is False  # this caller sees what it read...
    assert rt.row is None  # ...but it is not kept
    monkeypatch.setattr(store, "get_session", read)
    assert ctx.manager.session_row(rt)["share"] is True and rt.row["share"] is True


def test_answer_summary_and_result(ctx):
    rt = new_session(ctx)
    q = views.session_state(ctx, rt)["question"]
    with rt.lock:
        ctx.manager.answer(rt, q["id"], "choose", 1)
    s = views.session_state(ctx, rt)
    assert s["n_answered"] == 1 and s["n_events"] == 1 and s["can_undo"] is True
    assert s["question"]["number"] == 2 and s["question"]["id"] != q["id"]

    summ = views.learned_summary(ctx, rt)
    assert summ["n_answers"] == 1 and summ["uncertainty"] > 0
    assert [x["slot"] for x in summ["slots"]] == ["subject", "style", "light"]
    for slot in summ["slots"]:
        assert len(slot["top"]) == 5
        assert not {t for t, _ in slot["top"]} & {t for t, _ in slot["bottom"]}
    assert views.learned_summary(ctx, rt) is summ  # cached until the next answer

    res = views.session_result(ctx, rt)
    assert set(res) == {"prompts", "confidence", "summary", "n_answered", "n_questions"}
    conf = res["confidence"]
    assert 0 < conf["expected_error"] < 0.5 and conf["n_answers"] == 1
    assert conf["text"].endswith("the way you would (after 1 answer).")
    assert res["n_answered"] == 1 and res["n_questions"] == s["n_questions"]
    assert res["summary"] is summ
    prompts = res["prompts"]
    assert [p["rank"] for p in prompts] == [1, 2, 3, 4]
    assert all(isinstance(p["text"], str) and p["text"].count(",") == 2 for p in prompts)
    scores = [p["score"] for p in prompts]
    assert all(isinstance(x, float) for x in scores) and scores == sorted(scores, reverse=True)
    assert all(p["image"] is None for p in prompts)
    assert views.is_done(rt) is False


def test_answer_undo_and_export_views(ctx):
    rt = new_session(ctx)
    with pytest.raises(ConflictError, match="^nothing to undo$"):
        views.undo_answer(ctx, rt)
    q = views.session_state(ctx, rt)["question"]
    with pytest.raises(views.Unprocessable, match="position is required to choose"):
        views.submit_answer(ctx, rt, q["id"], "choose", None)
    with pytest.raises(views.Unprocessable, match="no position with action skip"):
        views.submit_answer(ctx, rt, q["id"], "skip", 0)
    with pytest.raises(views.Unprocessable, match=r"position must be in 0\.\."):
        views.submit_answer(ctx, rt, q["id"], "choose", 7)
    with pytest.raises(views.NotFound, match="question not found in this session"):
        views.submit_answer(ctx, rt, "nope", "choose", 0)
    s = views.submit_answer(ctx, rt, q["id"], "skip", None)
    assert s["n_events"] == 1 and s["n_answered"] == 0 and s["question"]["number"] == 2
    back = views.undo_answer(ctx, rt)
    assert back["n_events"] == 0 and back["question"] == q

    exp = views.session_export(ctx, rt, "jsonl")
    assert exp.data.decode().count("\n") >= 2 and rt.sid not in exp.data.decode()
    with pytest.raises(views.Unprocessable, match=f"choose one of {', '.join(FORMATS)}"):
        views.session_export(ctx, rt, "csv")


def test_images_follow_the_generator(tmp_path, tiny_vocab_dir, ctx):
    assert views.image_url(ctx, "S" * 32, "Q", 2) is None
    rt0 = new_session(ctx)
    q0 = views.session_state(ctx, rt0)["question"]
    with pytest.raises(views.NotFound, match="no image generator is configured"):
        views.option_image(ctx, rt0, q0["id"], 0)
    with pytest.raises(views.NotFound, match="question not found in this session"):
        views.option_image(ctx, rt0, "nope", 0)  # checked before the generator
    gctx = make_ctx(tmp_path / "g", tiny_vocab_dir, generator=FakeGenerator())
    assert views.image_url(gctx, "S" * 32, "Q", 2) == f"/api/sessions/{'S' * 32}/images/Q/2"
    rt = new_session(gctx)
    q = views.session_state(gctx, rt)["question"]
    assert [o["image"] for o in q["options"]] == [
        f"/api/sessions/{rt.sid}/images/{q['id']}/{i}" for i in range(len(q["options"]))
    ]
    path = views.option_image(gctx, rt, q["id"], 0)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(views.NotFound, match="no such option"):
        views.option_image(gctx, rt, q["id"], len(q["options"]))
    res = views.session_result(gctx, rt)
    assert res["prompts"][0]["image"] == f"/api/sessions/{rt.sid}/result-images/0"
    with pytest.raises(views.NotFound, match="no such prompt"):
        views.result_image(gctx, rt, 4)


def test_lookup_and_ready(ctx):
    with pytest.raises(views.NotFound, match="^unknown session$"):
        views.lookup(ctx, "x" * 32)  # well-formed but unknown
    with pytest.raises(views.NotFound, match="^unknown session$"):
        views.lookup(ctx, "bad$id")
    rt = ctx.manager.create(style="", k=3, episodes=2)
    assert views.lookup(ctx, rt.sid) is rt

    designing = Runtime("d" * 32)
    assert designing.state == "designing"
    with pytest.raises(ConflictError, match="^session is designing; try again in a moment$"):
        views.ready(designing)
    s = views.session_state(ctx, designing_in_store(ctx))
    assert s["state"] == "designing" and s["question"] is None and s["n_answered"] == 0
    failed = Runtime("f" * 32, state="error", error="K=9 is too large")
    with pytest.raises(ConflictError, match="^session failed: K=9 is too large$"):
        views.ready(failed)
    assert views.ready(wait_ready(rt)) is rt


def designing_in_store(ctx: AppContext) -> Runtime:
    """A stored session whose runtime has not finished designing (no personalizer yet)."""
    sid = ctx.store.create_session(style="later", k=3, episodes=2)
    return Runtime(sid)


def test_prior_words_and_a_question_cap(tmp_path, tiny_vocab_dir):
    """With a prior, the words typed at the start give the first guess (a session restored from
    the store keeps them); the cap ends the questions; "ask me more" raises it by whole rounds."""
    import numpy as np

    from edpbrl.prior import packaged_prior

    ctx = make_ctx(tmp_path, tiny_vocab_dir)
    ctx.manager.prior, ctx.manager.max_questions = "packaged", 4
    rt = new_session(ctx, style="misty harbour at dawn")
    p = rt.p
    assert p.words == "misty harbour at dawn" and p.prior is not None and p.stop.max_questions == 4
    emb = ctx.manager.shared_embedder()
    base = packaged_prior(emb)
    e = np.asarray(emb.encode(["misty harbour at dawn"])[0], dtype=np.float64)
    np.testing.assert_allclose(p.fit(), base.with_words(e).theta_mean(), atol=1e-6)  # no answer yet
    state = views.session_state(ctx, rt)
    assert state["n_questions"] == 4 and state["question"]["total"] == 4
    for _ in range(4):
        state = views.submit_answer(ctx, rt, state["question"]["id"], "choose", 0)
    assert state["state"] == "done" and state["n_answered"] == 4
    res = views.session_result(ctx, rt)
    assert res["n_questions"] == 4 and res["confidence"]["n_answers"] == 4
    ctx.manager.forget(rt.sid)  # restored from the store: same words, prior, cap and estimate
    again = wait_ready(ctx.manager.get(rt.sid))
    assert again.p.words == p.words and again.p.stop == p.stop
    np.testing.assert_allclose(again.p.fit(), p.fit())
    views.extend_session(ctx, again, 1)  # one more round: as many questions as slots
    wait_ready(again)
    state = views.session_state(ctx, again)
    assert state["state"] == "asking" and state["n_questions"] == 4 + again.p.questions_per_episode


def test_no_prior_ignores_the_words(ctx):
    rt = new_session(ctx, style="misty harbour at dawn")
    assert rt.p.prior is None and rt.p.words is None and rt.p.stop is None


def test_a_summary_encodes_the_answers_without_holding_the_session(ctx, monkeypatch):
    """The encoding, the bulk of a summary, runs outside the session's lock: the person's next
    answer (another thread) is not held up by it."""
    import threading

    rt = new_session(ctx)
    q = views.session_state(ctx, rt)["question"]
    views.submit_answer(ctx, rt, q["id"], "choose", 0)
    answered = {o["text"] for o in q["options"]}
    enc, seen = rt.p.embedder, []
    inner = enc.encode

    def encode(texts):
        if set(texts) == answered:
            free = []

            def probe():
                got = rt.lock.acquire(blocking=False)
                if got:
                    rt.lock.release()
                free.append(got)

            t = threading.Thread(target=probe)
            t.start()
            t.join()
            seen.append(free[0])
        return inner(texts)

    monkeypatch.setattr(enc, "encode", encode)
    assert views.learned_summary(ctx, rt)["n_answers"] == 1
    assert seen and seen[0] is True  # first asked for with the session free for other threads
