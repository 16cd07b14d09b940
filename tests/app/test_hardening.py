"""Protection and plumbing: trusted hosts, size and rate limits, the live-session cap, 405/HEAD,
the OpenAPI schema, integral JSON numbers, readiness, and logs that never carry a token."""

from __future__ import annotations

import json
import logging
import time

import pytest
from app_helpers import answer, start, wait_ready

from edpbrl.app.middleware import Protection, scrub, scrub_path
from edpbrl.export import public_id


def test_host_header_must_be_trusted(make_client):
    c = make_client()
    assert c.get("/api/health").status_code == 200
    for host in ("localhost", "localhost:8000", "[::1]:8000"):
        assert c.get("/api/health", headers={"host": host}).status_code == 200, host
    r = c.post("/api/sessions", json={}, headers={"host": "rebind.attacker.example"})
    assert r.status_code == 400  # DNS rebinding: a page on another name cannot start sessions
    c2 = make_client(protection=Protection(hosts=["edpbrl.lan"]))
    assert c2.get("/", headers={"host": "edpbrl.lan"}).status_code == 200
    assert c2.get("/", headers={"host": "127.0.0.1"}).status_code == 400


def test_body_and_header_limits(make_client):
    c = make_client(protection=Protection(max_body=1000))
    r = c.post(
        "/api/sessions",
        content=b'{"style": "' + b"x" * 2000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and "too large" in r.json()["error"]

    def chunks():  # no Content-Length: counted as it streams in
        yield b'{"style": "'
        for _ in range(20):
            yield b"y" * 100
        yield b'"}'

    r = c.post("/api/sessions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    ok = c.post(
        "/api/sessions",
        content=(b'{"style": "short"}' for _ in range(1)),
        headers={"content-type": "application/json"},
    )
    assert ok.status_code == 201
    r = c.get("/api/health", headers={f"x-h{i}": "1" for i in range(80)})
    assert r.status_code == 431
    r = c.get("/api/health", headers={"x-big": "z" * 9000})
    assert r.status_code == 431


def test_rate_limits_per_client(make_client):
    c = make_client(protection=Protection(rate=1, burst=3, create_rate=1 / 60, create_burst=1))
    codes = [c.get("/api/health").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    r = c.get("/api/health")
    assert (
        r.status_code == 429
        and int(r.headers["retry-after"]) >= 1
        and "too many requests" in r.json()["error"]
    )
    assert c.get("/static/app.css").status_code == 200  # static files are not counted
    c2 = make_client(protection=Protection(rate=0, create_rate=1 / 60, create_burst=1))
    assert c2.post("/api/sessions", json={}).status_code == 201
    r = c2.post("/api/sessions", json={})
    assert r.status_code == 429 and "new sessions" in r.json()["error"] and r.headers["retry-after"]


def test_live_session_cap_429_and_eviction_restores(make_client):
    c = make_client(max_live=2)
    m = c.app.state.manager
    a, sa = start(c)
    b, _ = start(c)
    r = c.post("/api/sessions", json={})  # both sessions were used a moment ago: none can go
    assert r.status_code == 429 and "busy" in r.json()["error"] and r.headers["retry-after"]
    sa = answer(c, a, sa, position=1).json()
    m.min_idle = 0.0  # now the least recently used one may be dropped
    m._live[b].last_used -= 60
    d, _ = start(c)
    assert b not in m._live and m.evictions == 1
    s = wait_ready(c, b)  # restored from the store on its next request
    assert s["state"] == "asking" and s["n_answered"] == 0
    assert m.n_live == 2
    assert c.get("/api/health").json()["live_sessions"] == 2


def test_idle_sessions_are_dropped_and_pinned_ones_never(make_client):
    c = make_client(idle_seconds=0.0)
    m = c.app.state.manager
    a, sa = start(c)
    with m.checkout(a) as rt:  # a request in progress pins its session
        m._swept = 0
        m.min_idle = 0
        with m._guard:
            m._make_room()
        assert a in m._live and not rt.evicted
    m._swept = 0
    with m._guard:
        m._make_room()
    assert a not in m._live and rt.evicted
    s = wait_ready(c, a)
    assert s["question"] == sa["question"]  # same question, same id, after the restore


def test_405_has_allow_and_head_works(client):
    r = client.get("/api/sessions")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["error"]
    r = client.delete("/api/health")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    for path in ("/", "/api/health", "/static/app.css"):
        g, h = client.get(path), client.head(path)
        assert h.status_code == g.status_code == 200 and h.content == b"", path
        assert h.headers["content-type"] == g.headers["content-type"]
    sid, _ = start(client)
    assert client.head(f"/api/sessions/{sid}").status_code == 200
    assert client.head("/api/sessions/" + "x" * 32).status_code == 404
    assert client.head("/nowhere").status_code == 404


def test_openapi_lists_every_response_and_the_undo_body(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    answer_codes = set(paths["/api/sessions/{sid}/answer"]["post"]["responses"])
    assert {"200", "404", "409", "413", "415", "422", "429", "431"} <= answer_codes
    assert {"201", "415", "422", "429"} <= set(paths["/api/sessions"]["post"]["responses"])
    assert {"200", "404", "409", "422"} <= set(paths["/sessions/{sid}/export"]["get"]["responses"])
    undo = paths["/api/sessions/{sid}/undo"]["post"]
    ref = json.dumps(undo["requestBody"])
    assert "UndoBody" in ref
    assert spec["components"]["schemas"]["UndoBody"]["additionalProperties"] is False
    err = spec["components"]["schemas"]["Error"]
    assert err["required"] == ["error"]
    assert "HTTPValidationError" not in json.dumps(paths)  # our 422 body is {"error": ...}


def test_integral_json_numbers_are_integers(client):
    r = client.post("/api/sessions", json={"k": 3.0, "episodes": 2.0})
    assert r.status_code == 201
    s = wait_ready(client, r.json()["id"])
    assert s["k"] == 3
    body = {"question_id": s["question"]["id"], "action": "choose", "position": 1.0}
    assert client.post(f"/api/sessions/{s['id']}/answer", json=body).status_code == 200
    for bad in ({"k": 3.5}, {"k": True}, {"k": "3"}, {"episodes": 1e300}):
        assert client.post("/api/sessions", json=bad).status_code == 422, bad


def test_health_says_ready_after_warm_up(client):
    deadline = time.monotonic() + 30
    while not (h := client.get("/api/health").json())["ready"]:
        assert time.monotonic() < deadline, h
        time.sleep(0.05)
    assert h["ok"] and h["warmup"]["state"] == "ready" and h["warmup"]["seconds"] >= 0


def test_logs_hash_session_tokens(make_client, caplog, monkeypatch):
    from edpbrl.app import views

    c = make_client()
    sid, s = start(c)
    with caplog.at_level(logging.INFO, logger="edpbrl"):
        answer(c, sid, s, position=0)
        c.get(f"/sessions/{sid}/export?format=jsonl")

        def boom(ctx, rt, n=4):
            raise RuntimeError(f"something broke in session {rt.sid}")

        monkeypatch.setattr(views, "session_result", boom)
        r = c.get(f"/api/sessions/{sid}/result")
        assert r.status_code == 500 and r.json() == {"error": "internal error"}
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert sid not in text and s["question"]["id"] not in text
    assert public_id(sid) in text
    access = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "edpbrl.access"]
    assert any(a["path"] == f"/api/sessions/~{public_id(sid)}/answer" and a["status"] == 200 for a in access)
    assert all({"method", "path", "status", "ms", "client"} <= set(a) for a in access)
    errors = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "edpbrl.error"]
    assert errors and "something broke" in errors[0]["error"] and "RuntimeError" in errors[0]["traceback"]


def test_scrub():
    tok = "A" * 10 + "b-_" + "9" * 19
    assert len(tok) == 32
    assert tok not in scrub(f"x {tok} y") and public_id(tok) in scrub(f"x {tok} y")
    assert scrub_path("/s/short-id/result") == f"/s/~{public_id('short-id')}/result"
    assert scrub_path("/static/app.css") == "/static/app.css"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5"])
def test_trusted_hosts_for_a_bind_address(host):
    from edpbrl.app.server import trusted_hosts

    hosts = trusted_hosts(host, ["edpbrl.lan"])
    assert {"127.0.0.1", "localhost", "edpbrl.lan"} <= set(hosts)
    assert (host in hosts) == (host != "0.0.0.0")
    assert trusted_hosts("127.0.0.1", ["*"]) == ["*"]
