"""Fixtures for the app tests: apps on the real Personalizer with the hashing encoder (fast and
deterministic) over the shared tiny vocabulary."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def make_client(tmp_path, tiny_vocab_dir):
    """``make_client(**kw)`` → a TestClient on a fresh app; same ``db`` = a restarted server."""
    pytest.importorskip("fastapi", reason="the app tests need the 'app' extra (fastapi)")
    pytest.importorskip("httpx", reason="the app tests need httpx (FastAPI's TestClient)")
    from fastapi.testclient import TestClient

    from edpbrl.app.middleware import Protection
    from edpbrl.app.server import create_app

    clients = []

    def make(db=None, **kw):
        kw.setdefault("vocab", tiny_vocab_dir)
        kw.setdefault("k", 3)
        kw.setdefault("episodes", 2)
        kw.setdefault("embedder", "hashing")
        # tests poll quickly from one client: no rate limits unless a test sets its own
        kw.setdefault("protection", Protection(rate=0, create_rate=0))
        app = create_app(db or tmp_path / "app.db", **kw)
        c = TestClient(app, base_url="http://127.0.0.1")  # Host must be a loopback name
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()
