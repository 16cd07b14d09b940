"""API tests: every endpoint, bad input, double submits and cross-session access."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import zipfile

import numpy as np
import pytest
from app_helpers import answer, start, wait_ready
from PIL import Image


class FakeGenerator:
    """A generator that paints a solid colour per (prompt, seed) and counts its renders."""

    model_id = "fake:v1"

    def __init__(self):
        self.calls = 0

    def render(self, prompt, seed):
        self.calls += 1
        h = hash((prompt, seed)) & 0xFFFFFF
        return Image.new("RGB", (16, 16), (h & 255, (h >> 8) & 255, h >> 16))


def run_to_end(client, sid, state):
    n = 0
    while state["state"] == "asking":
        r = answer(client, sid, state, position=n % len(state["question"]["options"]))
        assert r.status_code == 200, r.text
        state = r.json()
        n += 1
    return state


# -- pages and health -----------------------------------------------------------------------------
def test_index_and_health(client):
    r = client.get("/")
    assert r.status_code == 200 and "Find your style" in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    h = client.get("/api/health").json()
    assert h["ok"] is True and h["images"] is False


def test_pages_for_session(client):
    sid, _ = start(client, style="foggy harbour at dawn")
    r = client.get(f"/s/{sid}")
    assert r.status_code == 200 and sid in r.text and "foggy harbour at dawn" in r.text
    r = client.get(f"/s/{sid}/result")
    assert r.status_code == 200 and "Your personalised prompts" in r.text
    assert client.get("/s/" + "x" * 32).status_code == 404
    assert "unknown session" in client.get("/s/" + "x" * 32).text
    assert client.get("/static/session.js").status_code == 200


# -- sessions --------------------------------------------------------------------------------------
def test_create_session_and_state(client):
    sid, s = start(client, style="  calm  ", k=3, episodes=2)
    assert len(sid) >= 32 and s["id"] == sid and s["style"] == "calm"
    assert s["state"] == "asking" and s["k"] == 3
    assert s["n_questions"] >= 3 and s["n_answered"] == 0 and s["can_undo"] is False
    q = s["question"]
    assert q["number"] == 1 and q["total"] == s["n_questions"]
    assert [o["position"] for o in q["options"]] == list(range(len(q["options"])))
    assert 2 <= len(q["options"]) <= 3 and all(o["image"] is None for o in q["options"])
    assert s["certificate"]["converged"] and s["certificate"]["relative_gap"] <= 1e-4
    sid2, _ = start(client)
    assert sid2 != sid


@pytest.mark.parametrize(
    "body",
    [
        {"k": 1},
        {"k": 11},
        {"k": "3"},
        {"episodes": 0},
        {"episodes": 1.5},
        {"style": 5},
        {"style": "x" * 501},
        {"unexpected": 1},
        [],
    ],
)
def test_create_session_rejects_bad_bodies(client, body):
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 422
    assert r.json()["error"].startswith("invalid request")


def test_malformed_json_and_content_type(client):
    r = client.post("/api/sessions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "error" in r.json()
    r = client.post("/api/sessions", content=b"style=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = client.post("/api/sessions", data={"style": "x"})  # a plain HTML form post (CSRF-style)
    assert r.status_code == 415


def test_k_larger_than_a_slot_reports_error_state(client):
    sid, s = start(client, k=9)  # slots have 8 entries
    assert s["state"] == "error" and "K=9" in s["error"]
    r = client.post(f"/api/sessions/{sid}/answer", json={"question_id": "x", "position": 0})
    assert r.status_code == 409 and "session failed" in r.json()["error"]


@pytest.mark.parametrize("sid", ["x" * 32, "short", "bad$chars" * 4])
def test_unknown_session_everywhere(client, sid):
    q = {"question_id": "abc", "position": 0}
    assert client.get(f"/api/sessions/{sid}").status_code == 404
    assert client.post(f"/api/sessions/{sid}/answer", json=q).status_code == 404
    assert client.post(f"/api/sessions/{sid}/undo", json={}).status_code == 404
    assert client.get(f"/api/sessions/{sid}/summary").status_code == 404
    assert client.get(f"/api/sessions/{sid}/result").status_code == 404
    assert client.post(f"/api/sessions/{sid}/extend", json={"episodes": 1}).status_code == 404
    assert client.get(f"/api/sessions/{sid}/images/abc/0").status_code == 404
    assert client.get(f"/api/sessions/{sid}/result-images/0").status_code == 404
    r = client.get(f"/sessions/{sid}/export?format=jsonl")
    assert r.status_code == 404 and r.json() == {"error": "unknown session"}


# -- answers ---------------------------------------------------------------------------------------
def test_answer_advances_and_is_committed_before_the_response(client, tmp_path):
    sid, s = start(client)
    q = s["question"]
    r = answer(client, sid, s, position=1)
    assert r.status_code == 200
    s2 = r.json()
    assert s2["n_answered"] == 1 and s2["can_undo"] is True
    assert s2["question"]["number"] == 2 and s2["question"]["id"] != q["id"]
    with sqlite3.connect(tmp_path / "app.db") as conn:  # an independent reader sees it at once
        rows = conn.execute(
            "SELECT question_id, action, position, choice FROM answers WHERE session_id = ?", (sid,)
        ).fetchall()
        order = json.loads(
            conn.execute("SELECT display_order FROM questions WHERE id = ?", (q["id"],)).fetchone()[0]
        )
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert rows == [(q["id"], "choose", 1, order[1])]


@pytest.mark.parametrize("position", [-1, 3, 99])
def test_out_of_range_choice(client, position):
    sid, s = start(client)
    r = answer(client, sid, s, position=position)
    assert r.status_code == 422 and "position must be in 0.." in r.json()["error"]
    assert client.get(f"/api/sessions/{sid}").json()["n_answered"] == 0


@pytest.mark.parametrize(
    "body, status",
    [
        ({"action": "choose"}, 422),  # no question_id
        ({"question_id": "Q", "action": "choose"}, 422),  # no position
        ({"question_id": "Q", "action": "pick", "position": 0}, 422),
        ({"question_id": "Q", "position": "1"}, 422),
        ({"question_id": "Q", "position": True}, 422),
        ({"question_id": "Q", "action": "skip", "position": 0}, 422),
        ({"question_id": "Q", "position": 0, "extra": 1}, 422),
        ({"question_id": "", "position": 0}, 422),
    ],
)
def test_malformed_answer_bodies(client, body, status):
    sid, s = start(client)
    body = {k: (s["question"]["id"] if v == "Q" else v) for k, v in body.items()}
    r = client.post(f"/api/sessions/{sid}/answer", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]


def test_unknown_question_id(client):
    sid, s = start(client)
    r = client.post(f"/api/sessions/{sid}/answer", json={"question_id": "nope", "position": 0})
    assert r.status_code == 404 and r.json()["error"] == "question not found in this session"


def test_double_submit_is_rejected_and_recorded_once(client, tmp_path):
    sid, s = start(client)
    assert answer(client, sid, s, position=0).status_code == 200
    r = answer(client, sid, s, position=2)  # the same question again (e.g. a retried request)
    assert r.status_code == 409 and r.json()["error"] == "this question has already been answered"
    with sqlite3.connect(tmp_path / "app.db") as conn:
        n = conn.execute(
            "SELECT COUNT(*) FROM answers WHERE question_id = ?", (s["question"]["id"],)
        ).fetchone()[0]
    assert n == 1
    assert client.get(f"/api/sessions/{sid}").json()["n_answered"] == 1


def test_concurrent_double_submit(client, tmp_path):
    sid, s = start(client)
    codes = []
    barrier = threading.Barrier(4)

    def post():
        barrier.wait()
        codes.append(answer(client, sid, s, position=1).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409, 409, 409]
    with sqlite3.connect(tmp_path / "app.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


def test_skip_and_no_preference(client):
    sid, s = start(client)
    s1 = answer(client, sid, s, action="skip").json()
    assert s1["n_answered"] == 0 and s1["question"]["number"] == 2 and s1["can_undo"]
    s2 = answer(client, sid, s1, action="no_preference").json()
    assert s2["n_answered"] == 0 and s2["question"]["number"] == 3 and s2["n_events"] == 2


def test_undo_returns_the_same_question(client, tmp_path):
    sid, s = start(client)
    r = client.post(f"/api/sessions/{sid}/undo", json={})
    assert r.status_code == 409 and r.json()["error"] == "nothing to undo"
    s1 = answer(client, sid, s, position=0).json()
    back = client.post(f"/api/sessions/{sid}/undo", json={}).json()
    assert back["n_answered"] == 0 and back["can_undo"] is False
    assert back["question"] == s["question"]  # same id, same on-screen order
    s2 = answer(client, sid, back, position=1).json()
    assert s2["question"]["id"] == s1["question"]["id"]
    with sqlite3.connect(tmp_path / "app.db") as conn:
        rows = conn.execute("SELECT position, undone_at IS NOT NULL FROM answers ORDER BY id").fetchall()
    assert rows == [(0, 1), (1, 0)]  # the undone answer is kept, flagged


def test_summary_and_panel_flag(client):
    sid, s = start(client, episodes=3)
    flags = []
    for _ in range(3):
        s = answer(client, sid, s, position=0).json()
        flags.append(s["show_summary"])
    assert flags == [False, False, True]
    summ = client.get(f"/api/sessions/{sid}/summary").json()
    assert summ["n_answers"] == 3 and summ["uncertainty"] > 0
    assert [x["slot"] for x in summ["slots"]] == ["subject", "style", "light"]
    top = summ["slots"][0]["top"]
    assert len(top) == 5 and top[0][1] >= top[-1][1]


def test_full_session_result_and_extend(client):
    sid, s = start(client, style="quiet")
    s = run_to_end(client, sid, s)
    assert s["state"] == "done" and s["question"] is None
    assert s["n_answered"] == s["n_questions"]
    r = answer(client, sid, {"question": {"id": "x"}}, position=0)
    assert r.status_code in (404, 409)
    res = client.get(f"/api/sessions/{sid}/result").json()
    assert len(res["prompts"]) == 4 and res["n_answered"] == s["n_answered"]
    scores = [p["score"] for p in res["prompts"]]
    assert scores == sorted(scores, reverse=True)
    assert all(p["text"].count(",") == 2 for p in res["prompts"])
    page = client.get(f"/s/{sid}/result").text
    assert res["prompts"][0]["text"] in page and "quiet" in page
    assert client.post(f"/api/sessions/{sid}/extend", json={"episodes": 0}).status_code == 422
    r = client.post(f"/api/sessions/{sid}/extend", json={"episodes": 1})
    assert r.status_code == 202
    s2 = wait_ready(client, sid)
    assert s2["state"] == "asking" and s2["n_questions"] > s["n_questions"]
    assert s2["question"]["number"] == s["n_questions"] + 1


# -- cross-session access -------------------------------------------------------------------------
def test_one_session_cannot_answer_or_read_another(client):
    gen_client = client
    a, sa = start(gen_client)
    b, sb = start(gen_client)
    qa = sa["question"]["id"]
    # B's token with A's question: not found (and A is untouched)
    r = client.post(f"/api/sessions/{b}/answer", json={"question_id": qa, "position": 0})
    assert r.status_code == 404
    assert client.get(f"/api/sessions/{a}").json()["n_answered"] == 0
    assert client.get(f"/api/sessions/{b}").json()["n_answered"] == 0
    assert client.get(f"/api/sessions/{b}/images/{qa}/0").status_code == 404
    # an undo in B does not touch A
    assert answer(client, a, sa, position=0).status_code == 200
    assert client.post(f"/api/sessions/{b}/undo", json={}).status_code == 409
    assert client.get(f"/api/sessions/{a}").json()["n_answered"] == 1
    # exports name sessions by a hash, never by the token
    text = client.get(f"/sessions/{a}/export?format=jsonl").text
    assert a not in text and b not in text


# -- restart ---------------------------------------------------------------------------------------
def test_restart_resumes_exactly(make_client, tmp_path):
    c1 = make_client()
    sid, s = start(c1, style="resume me")
    s = answer(c1, sid, s, position=1).json()
    s = answer(c1, sid, s, action="skip").json()
    s = answer(c1, sid, s, action="no_preference").json()
    s = answer(c1, sid, s, position=0).json()
    s = c1.post(f"/api/sessions/{sid}/undo", json={}).json()
    theta1 = np.load(io.BytesIO(c1.get(f"/sessions/{sid}/export?format=npy").content))
    c2 = make_client(db=tmp_path / "app.db")  # a new server process on the same file
    s2 = wait_ready(c2, sid)
    assert s2["question"] == s["question"]
    for key in ("n_answered", "n_events", "n_questions", "style", "can_undo"):
        assert s2[key] == s[key], key
    theta2 = np.load(io.BytesIO(c2.get(f"/sessions/{sid}/export?format=npy").content))
    np.testing.assert_allclose(theta1, theta2)
    # and it carries on
    assert answer(c2, sid, s2, position=0).status_code == 200


def test_restart_after_extend(make_client, tmp_path):
    c1 = make_client()
    sid, s = start(c1)
    s = answer(c1, sid, s, position=0).json()
    c1.post(f"/api/sessions/{sid}/extend", json={"episodes": 1})
    s = wait_ready(c1, sid)
    s = run_to_end(c1, sid, s)
    c2 = make_client(db=tmp_path / "app.db")
    s2 = wait_ready(c2, sid)
    assert s2["state"] == "done" and s2["n_questions"] == s["n_questions"]
    assert s2["n_answered"] == s["n_answered"]


def test_adaptive_method_plans_from_answers_and_resumes_exactly(make_client, tmp_path):
    # `serve --method`: an adaptive strategy plans each episode from the answers so far; the
    # session records its method, so a restarted server (default method) replays the same plans
    c1 = make_client(method="info-gain", episodes=4)
    sid, s = start(c1, style="adaptive")
    rt = c1.app.state.manager.get(sid)
    assert rt.p.strategy.adaptive and rt.p.method == "info-gain"
    assert c1.app.state.manager.store.get_session(sid)["config"]["method"] == "info-gain"
    n_first = s["n_questions"]
    assert n_first >= 8
    seen = []
    while s["state"] == "asking" and len(seen) < n_first // 2:  # past two episodes' boundaries
        seen.append(s["question"])
        s = answer(c1, sid, s, position=len(seen) % 3).json()
    assert s["state"] == "asking" and s["n_questions"] == n_first
    c2 = make_client(db=tmp_path / "app.db")  # restarted with the default method
    s2 = wait_ready(c2, sid)
    assert s2["state"] == "asking" and s2["question"] == s["question"]
    assert c2.app.state.manager.get(sid).p.method == "info-gain"
    done = run_to_end(c2, sid, s2)
    assert done["state"] == "done"
    # "ask me more" plans further adaptive episodes; a third server replays those too
    assert c2.post(f"/api/sessions/{sid}/extend", json={"episodes": 1}).status_code == 202
    s3 = wait_ready(c2, sid)
    assert s3["state"] == "asking" and s3["n_questions"] > done["n_questions"]
    s3 = answer(c2, sid, s3, position=1).json()
    c3 = make_client(db=tmp_path / "app.db")
    s4 = wait_ready(c3, sid)
    assert s4["question"] == s3["question"] and s4["n_answered"] == s3["n_answered"]


def test_unknown_method_is_one_line_error(tmp_path, tiny_vocab_dir):
    pytest.importorskip("fastapi")
    from edpbrl.app.server import create_app
    from edpbrl.errors import EdpbrlError

    with pytest.raises(EdpbrlError, match="unknown method 'nope'"):
        create_app(tmp_path / "a.db", vocab=tiny_vocab_dir, embedder="hashing", method="nope")
    with pytest.raises(EdpbrlError, match="has no option 'spred'"):
        create_app(tmp_path / "a.db", vocab=tiny_vocab_dir, embedder="hashing", method="info-gain:spred=1")


def test_tampered_store_reports_error(make_client, tmp_path):
    c1 = make_client()
    sid, s = start(c1)
    answer(c1, sid, s, position=0)
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute('UPDATE questions SET options = \'["x", "y", "z"]\'')
    c2 = make_client(db=tmp_path / "app.db")
    s2 = wait_ready(c2, sid)
    assert s2["state"] == "error" and "does not match" in s2["error"]


# -- images ----------------------------------------------------------------------------------------
def test_images_without_generator(client):
    sid, s = start(client)
    r = client.get(f"/api/sessions/{sid}/images/{s['question']['id']}/0")
    assert r.status_code == 404 and r.json()["error"] == "no image generator is configured"


def test_images_with_generator(make_client, tmp_path):
    gen = FakeGenerator()
    c = make_client(generator=gen, image_dir=tmp_path / "imgs")
    assert c.get("/api/health").json()["images"] is True
    sid, s = start(c)
    q = s["question"]
    for o in q["options"]:
        assert o["image"] == f"/api/sessions/{sid}/images/{q['id']}/{o['position']}"
        r = c.get(o["image"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(r.content)).size == (16, 16)
    n = gen.calls
    c.get(q["options"][0]["image"])  # cached on disk: no new render
    assert gen.calls == n == len(q["options"])
    assert c.get(f"/api/sessions/{sid}/images/{q['id']}/{len(q['options'])}").status_code == 404
    s = run_to_end(c, sid, s)
    res = c.get(f"/api/sessions/{sid}/result").json()
    r = c.get(res["prompts"][0]["image"])
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    assert c.get(f"/api/sessions/{sid}/result-images/9").status_code == 404
    z = zipfile.ZipFile(io.BytesIO(c.get(f"/sessions/{sid}/export?format=pickapic").content))
    rows = [json.loads(x) for x in z.read("pickapic.jsonl").decode().splitlines()]
    first = rows[0]
    assert first["jpg_0"] in z.namelist() and first["jpg_1"] in z.namelist()


# -- exports ---------------------------------------------------------------------------------------
def test_export_all_formats(client):
    sid, s = start(client, style="export me")
    s = answer(client, sid, s, position=0).json()
    s = answer(client, sid, s, action="no_preference").json()
    s = answer(client, sid, s, action="skip").json()
    s = answer(client, sid, s, position=1).json()
    client.post(f"/api/sessions/{sid}/undo", json={})

    r = client.get(f"/sessions/{sid}/export")  # jsonl by default
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["content-disposition"]
    recs = [json.loads(x) for x in r.text.splitlines()]
    assert recs[0]["record"] == "session" and recs[0]["style"] == "export me"
    kinds = [x["record"] for x in recs[1:]]
    assert kinds.count("answer") == 4 and kinds.count("question") >= 4
    assert sum(x.get("undone", False) for x in recs) == 1

    trl = [json.loads(x) for x in client.get(f"/sessions/{sid}/export?format=trl").text.splitlines()]
    assert trl and set(trl[0]) == {"prompt", "chosen", "rejected"}
    assert all(x["chosen"] != x["rejected"] for x in trl)

    z = zipfile.ZipFile(io.BytesIO(client.get(f"/sessions/{sid}/export?format=pickapic").content))
    rows = [json.loads(x) for x in z.read("pickapic.jsonl").decode().splitlines()]
    assert {"caption", "jpg_0", "jpg_1", "label_0", "label_1"} <= set(rows[0])
    assert {r["label_0"] for r in rows} <= {0.0, 0.5, 1.0}
    assert all(r["label_0"] + r["label_1"] == 1.0 for r in rows)

    th = client.get(f"/sessions/{sid}/export?format=theta").json()
    assert th["format"] == "edpbrl-theta/1" and th["n_answers"] == 1 and th["style"] == "export me"
    assert len(th["theta"]) == th["dim"] and th["config"]["embedder"] == "hashing"
    npy = np.load(io.BytesIO(client.get(f"/sessions/{sid}/export?format=npy").content))
    np.testing.assert_allclose(npy, th["theta"])

    r = client.get(f"/sessions/{sid}/export?format=csv")
    assert r.status_code == 422 and "unknown format" in r.json()["error"]


def test_design_runs_in_background_with_progress(make_client, tiny_vocab_dir):
    from edpbrl import Personalizer

    release = threading.Event()

    def slow_factory(k, episodes, progress):
        progress(1, 4, "solving the design")
        assert release.wait(10)
        return Personalizer.default(
            k=k, episodes=episodes, vocabulary=str(tiny_vocab_dir), embedder="hashing", progress=progress
        )

    c = make_client(factory=slow_factory)
    r = c.post("/api/sessions", json={"style": "slow"})
    assert r.status_code == 201 and r.json()["state"] == "designing"
    sid = r.json()["id"]
    s = c.get(f"/api/sessions/{sid}").json()
    assert s["state"] == "designing" and s["question"] is None
    assert s["progress"] == {"done": 1, "total": 4, "message": "solving the design"}
    # nothing can be answered yet, and the result page sends you back to the progress page
    r = c.post(f"/api/sessions/{sid}/answer", json={"question_id": "x", "position": 0})
    assert r.status_code == 409 and "designing" in r.json()["error"]
    assert c.get(f"/api/sessions/{sid}/summary").status_code == 409
    r = c.get(f"/s/{sid}/result", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/s/{sid}"
    assert c.get("/api/health").status_code == 200  # the server is not blocked meanwhile
    release.set()
    s = wait_ready(c, sid)
    assert s["state"] == "asking" and s["certificate"]["relative_gap"] <= 1e-4


def test_restart_while_designing_designs_again(make_client, tmp_path, tiny_vocab_dir):
    release = threading.Event()

    def stuck_factory(k, episodes, progress):
        release.wait(10)
        raise RuntimeError("this server was stopped")

    c1 = make_client(factory=stuck_factory)
    sid = c1.post("/api/sessions", json={"style": "again"}).json()["id"]
    c2 = make_client(db=tmp_path / "app.db")  # the "restarted" server has no stuck design
    s = wait_ready(c2, sid)
    assert s["state"] == "asking" and s["style"] == "again"
    release.set()


def test_sharing_the_taste_is_recorded(client):
    """The start form's opt-in and the results page's toggle reach the store."""
    sid, _ = start(client, style="quiet snow", share=True)
    other, _ = start(client, style="loud city")
    store = client.app.state.store
    assert store.shared_session_ids() == [sid]
    r = client.post(f"/api/sessions/{other}/share", json={"share": True})
    assert r.status_code == 200 and r.json() == {"id": other, "share": True}
    assert client.post(f"/api/sessions/{sid}/share", json={"share": False}).status_code == 200
    assert store.shared_session_ids() == [other]
    assert client.post(f"/api/sessions/{sid}/share", json={"share": "yes"}).status_code == 422
    assert client.post("/api/sessions/" + "x" * 32 + "/share", json={"share": True}).status_code == 404


# -- results once computed are lookups ------------------------------------------------------------
class _ModelText:
    """A plug-in export that needs the model for more than the results page computed."""

    needs_model = True

    @staticmethod
    def build(store, sid, *, personalizer=None):
        from edpbrl.export import Export

        return Export("theta.txt", "text/plain", repr(personalizer.fit().tolist()).encode())


def test_cached_results_and_exports_skip_the_heavy_queue(client):
    from edpbrl.export import FORMATS, Format, register_format

    ctx = client.app.state.ctx
    jobs = []
    submit = ctx._submit
    ctx._submit = lambda fn, priority: (jobs.append(priority), submit(fn, priority))[1]
    plug = type("ModelText", (Format,), dict(vars(_ModelText)))()
    register_format("model-text", plug)
    try:
        sid, s = start(client, style="cached")
        s = answer(client, sid, s, position=0).json()
        s = answer(client, sid, s, position=1).json()
        first = client.get(f"/api/sessions/{sid}/result").json()
        assert len(jobs) == 1  # computed in the heavy threads (and its summary with it)
        page = client.get(f"/s/{sid}/result")
        again = client.get(f"/api/sessions/{sid}/result").json()
        th = client.get(f"/sessions/{sid}/export?format=theta").json()
        npy = client.get(f"/sessions/{sid}/export?format=npy")
        assert len(jobs) == 1, "a cached result, its page and the θ exports queued for heavy threads"
        assert again == first and first["prompts"][0]["text"] in page.text
        assert [p["prompt"] for p in th["best_prompts"]] == [p["text"] for p in first["prompts"]]
        np.testing.assert_allclose(np.load(io.BytesIO(npy.content)), th["theta"])
        # a plug-in model export is not known to be a lookup: it is always heavy
        assert client.get(f"/sessions/{sid}/export?format=model-text").status_code == 200
        assert len(jobs) == 2
        # a new answer invalidates the cache: computed again, on the new answers
        s = answer(client, sid, s, position=0).json()
        new = client.get(f"/api/sessions/{sid}/result").json()
        assert len(jobs) == 3 and new["n_answered"] == first["n_answered"] + 1
        assert client.get(f"/sessions/{sid}/export?format=theta").json()["n_answers"] == new["n_answered"]
        assert len(jobs) == 3
        client.post(f"/api/sessions/{sid}/undo", json={})  # and so does an undo
        assert client.get(f"/sessions/{sid}/export?format=npy").status_code == 200
        assert len(jobs) == 4
    finally:
        FORMATS.unregister("model-text")
        ctx._submit = submit


def test_adaptive_method_undo_across_an_episode_then_restart(make_client, tmp_path):
    # undo back over an episode boundary re-plans the next episode; a restarted server replays
    # the stored answers once each and must meet the same questions
    c1 = make_client(method="info-gain", episodes=4)
    sid, s = start(c1, style="adaptive undo")
    per = c1.app.state.manager.get(sid).p.questions_per_episode
    for i in range(per + 1):  # into the second episode
        s = answer(c1, sid, s, position=i % 3).json()
    s = c1.post(f"/api/sessions/{sid}/undo", json={}).json()
    s = c1.post(f"/api/sessions/{sid}/undo", json={}).json()  # back into the first episode
    for i in range(3):
        s = answer(c1, sid, s, position=(i + 1) % 3).json()
    c2 = make_client(db=tmp_path / "app.db")
    s2 = wait_ready(c2, sid)
    assert s2["state"] == "asking", s2.get("error")
    assert s2["question"] == s["question"]
