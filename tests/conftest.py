"""Fixtures for the whole suite: torch threads, an isolated embedding cache, the tiny vocabulary."""

from __future__ import annotations

import os

import pytest
import torch

from tests.helpers import write_vocab

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def torch_threads() -> int:
    """Threads per test process: the cores this process may use, shared among the pytest-xdist
    workers (PYTEST_XDIST_WORKER_COUNT), never fewer than one — no oversubscription."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, cores // max(workers, 1))


@pytest.fixture(autouse=True)
def _torch_threads():
    """Every test starts with :func:`torch_threads` intra-op threads (restored if a test changed it)."""
    torch.set_num_threads(torch_threads())
    yield


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDPBRL_CACHE_DIR", str(tmp_path / "embcache"))
    monkeypatch.setenv("EDPBRL_DESIGN_CACHE_DIR", str(tmp_path / "designcache"))


@pytest.fixture(scope="session")
def tiny_vocab_dir(tmp_path_factory):
    """A directory of slot files: 3 slots (subject, style, light) × 8 entries."""
    return write_vocab(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="session")
def tiny_vocab(tiny_vocab_dir):
    from edpbrl.vocab import Vocabulary

    return Vocabulary.from_dir(tiny_vocab_dir)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server (tests/pg.py) for this test process; skips with the reason
    when PostgreSQL cannot be installed or started."""
    from tests import pg

    try:
        server = pg.start()
    except pg.Unavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty database on :func:`postgres_server`."""
    return postgres_server.new_database()
