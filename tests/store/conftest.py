"""Every store backend under test: the contract suite runs once per entry of ``BACKENDS``."""

from __future__ import annotations

import pytest

from edpbrl.store import open_store

# name -> factory(request) returning a fresh, empty store of that backend (``request`` is the
# pytest request: a factory takes the fixtures it needs from it)
BACKENDS = {
    "sqlite": lambda request: open_store(request.getfixturevalue("tmp_path") / "contract.db"),
    # a fresh database on the throwaway server of tests/pg.py (skipped with the reason without one)
    "postgresql": lambda request: open_store(request.getfixturevalue("postgres_url")),
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request):
    s = BACKENDS[request.param](request)
    yield s
    if hasattr(s, "close"):
        s.close()
