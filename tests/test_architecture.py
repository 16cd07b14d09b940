"""The layered import contract and the no-cycles contract (pyproject's [tool.importlinter]) hold;
`make test` also runs `lint-imports` on its own, this keeps a plain `pytest` honest too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept(capsys):
    cli = pytest.importorskip("importlinter.cli", reason="needs import-linter (the 'test' extra)")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = cli.lint_imports(no_cache=True, show_timings=False, verbose=False)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 kept, 0 broken" in out
