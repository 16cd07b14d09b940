"""Several servers, one store: two apps (two in-process apps on one SQLite file; two ``edpbrl serve``
processes on one PostgreSQL database) serve one person's session consistently — of two submits of
one answer exactly one wins and none is lost, answers sent alternately to either are all kept in
order, and both show the same next question."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from app_helpers import answer, wait_ready

import edpbrl
from edpbrl.replay import restore
from edpbrl.store import open_store

EPISODES = 3  # 9 questions on the tiny vocabulary (3 slots)


def same_state(a, b, sid) -> dict:
    """Both servers' state of ``sid`` (each first brought in step with the store); they agree."""
    sa, sb = wait_ready(a, sid), wait_ready(b, sid)
    keys = ("state", "n_answered", "n_events", "n_questions", "can_undo")
    assert {k: sa[k] for k in keys} == {k: sb[k] for k in keys}
    assert (sa["question"] or {}).get("id") == (sb["question"] or {}).get("id")
    assert (sa["question"] or {}).get("index") == (sb["question"] or {}).get("index")
    return sa


def exercise(a, b, store) -> None:
    """The scenario, on two clients ``a`` and ``b`` of two servers sharing ``store``."""
    r = a.post("/api/sessions", json={"style": "harbour"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    wait_ready(a, sid)
    s = same_state(a, b, sid)  # b restores the session from the store
    assert s["state"] == "asking" and s["n_events"] == 0

    # one answer sent to both at once: exactly one wins, the store holds it once
    body = {"question_id": s["question"]["id"], "action": "choose", "position": 0}
    codes, barrier = [], threading.Barrier(2)

    def send(client):
        barrier.wait()
        codes.append(client.post(f"/api/sessions/{sid}/answer", json=body).status_code)

    threads = [threading.Thread(target=send, args=(c,)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]
    assert [x["question_id"] for x in store.live_answers(sid)] == [s["question"]["id"]]

    # answers alternate between the servers; each sees what the other recorded
    asked = [s["question"]["id"]]
    for i in range(4):
        s = same_state(a, b, sid)
        asked.append(s["question"]["id"])
        r = answer(b if i % 2 == 0 else a, sid, s, position=i % 3, action="skip" if i == 2 else "choose")
        assert r.status_code == 200, r.text
    s = same_state(a, b, sid)
    assert [x["question_id"] for x in store.live_answers(sid)] == asked
    assert [x["idx"] for x in store.live_answers(sid)] == list(range(5))
    assert s["n_events"] == 5 and s["n_answered"] == 4 and s["question"]["index"] == 5

    # a stale answer to the other server: refused, nothing recorded twice
    r = a.post(f"/api/sessions/{sid}/answer", json={**body, "question_id": asked[-1]})
    assert r.status_code == 409 and len(store.live_answers(sid)) == 5

    # undo on one server is seen by the other; answering again there continues from it
    r = a.post(f"/api/sessions/{sid}/undo", json={})
    assert r.status_code == 200 and r.json()["question"]["id"] == asked[-1]
    s = same_state(a, b, sid)
    assert s["n_events"] == 4 and s["question"]["id"] == asked[-1]
    assert answer(b, sid, s, position=2).status_code == 200
    s = same_state(a, b, sid)
    assert s["n_events"] == 5

    # the question both show is the one a fresh restore from the store asks
    p = restore(store, sid)
    assert p.n_records == 5 and set(p.ask().options) == {o["text"] for o in s["question"]["options"]}

    # run to the end on alternate servers, extend on one, continue on the other
    i = 0
    while s["state"] == "asking":
        r = answer(a if i % 2 else b, sid, s, position=0)
        assert r.status_code == 200, r.text
        s = same_state(a, b, sid)
        i += 1
    assert s["state"] == "done" and s["n_events"] == 3 * EPISODES
    assert b.post(f"/api/sessions/{sid}/extend", json={"episodes": 1}).status_code == 202
    wait_ready(b, sid)
    s = same_state(a, b, sid)
    assert s["state"] == "asking" and s["n_questions"] == 3 * (EPISODES + 1)
    assert answer(a, sid, s).status_code == 200
    s = same_state(a, b, sid)
    assert s["n_events"] == 3 * EPISODES + 1
    ra, rb = a.get(f"/api/sessions/{sid}/result").json(), b.get(f"/api/sessions/{sid}/result").json()
    assert ra["prompts"] == rb["prompts"]


def test_two_apps_share_one_sqlite_session(make_client, tmp_path):
    """Two apps with their own live sessions over one SQLite file (one process)."""
    db = tmp_path / "shared.db"
    a, b = make_client(db, episodes=EPISODES), make_client(db, episodes=EPISODES)
    exercise(a, b, open_store(db))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, vocab: Path, images: Path) -> tuple[subprocess.Popen, str]:
    """``edpbrl serve --db URL`` in a process of its own; returns it and its base URL."""
    port = _free_port()
    src = str(Path(edpbrl.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-m", "edpbrl.cli", "serve", "--db", url, "--port", str(port)]
    cmd += ["--vocab", str(vocab), "--k", "3", "--episodes", str(EPISODES), "--embedder", "hashing"]
    cmd += ["--images", str(images)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, f"http://127.0.0.1:{port}"


def _wait_up(proc: subprocess.Popen, base: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}): {proc.stdout.read()}")
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server at {base} did not come up in {timeout:.0f} s")


@pytest.mark.slow
def test_two_server_processes_share_one_postgresql_session(postgres_url, tiny_vocab_dir, tmp_path):
    """Two ``edpbrl serve --db postgresql://...`` processes behind one database."""
    servers = [_serve(postgres_url, tiny_vocab_dir, tmp_path / "images") for _ in range(2)]
    clients = []
    store = open_store(postgres_url)
    try:
        for proc, base in servers:
            _wait_up(proc, base)
            clients.append(httpx.Client(base_url=base, timeout=60))
        exercise(*clients, store)
    finally:
        for c in clients:
            c.close()
        for proc, _ in servers:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        store.close()


def test_postgresql_app_keeps_images_in_the_default_directory(postgres_url, tiny_vocab_dir, monkeypatch):
    from edpbrl.app.server import create_app, default_image_dir

    monkeypatch.setenv("HOME", "/nonexistent-home")
    app = create_app(postgres_url, vocab=tiny_vocab_dir, k=3, episodes=1, embedder="hashing")
    assert app.state.ctx.cache.root == default_image_dir() == Path("/nonexistent-home/.cache/edpbrl/images")
    app.state.store.close()
