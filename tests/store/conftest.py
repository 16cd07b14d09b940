"""Every store backend under test: the contract suite runs once per entry of ``BACKENDS``."""

from __future__ import annotations

import pytest

from edpbrl.store import open_store

# name -> factory(tmp_path) returning a fresh, empty store of that backend
BACKENDS = {
    "sqlite": lambda tmp_path: open_store(tmp_path / "contract.db"),
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path):
    return BACKENDS[request.param](tmp_path)
