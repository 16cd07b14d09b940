"""The worked examples in docs/extending.md run as written (in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

from edpbrl.embed import EMBEDDERS
from edpbrl.export import FORMATS
from edpbrl.store import STORES
from edpbrl.strategies import STRATEGIES

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_extending_examples_run(tmp_path, monkeypatch):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    registries = (STRATEGIES, EMBEDDERS, FORMATS, STORES)
    before = [set(r.names()) for r in registries]
    namespace: dict = {"__name__": "extending_md"}
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
        added = [set(r.names()) - b for r, b in zip(registries, before)]
        assert added == [{"thompson-tokens"}, {"wordvec"}, {"choices-csv"}, {"audit+sqlite"}]
    finally:
        for r, b in zip(registries, before):
            for name in set(r.names()) - b:
                r.unregister(name)
