"""Helpers shared by the app tests (imported as a plain module: tests/app is on sys.path)."""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def wait_ready(client, sid: str, timeout: float = 30.0) -> dict:
    """Poll the session state until the design (or a restore) is finished."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/sessions/{sid}")
        assert r.status_code == 200, r.text
        s = r.json()
        if s["state"] not in ("designing", "loading"):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"session still {s['state']} after {timeout}s: {s['progress']}")
        time.sleep(0.02)


def start(client, **body) -> tuple[str, dict]:
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    return sid, wait_ready(client, sid)


def answer(client, sid: str, state: dict, position: int = 0, action: str = "choose"):
    body = {"question_id": state["question"]["id"], "action": action}
    if action == "choose":
        body["position"] = position
    return client.post(f"/api/sessions/{sid}/answer", json=body)
