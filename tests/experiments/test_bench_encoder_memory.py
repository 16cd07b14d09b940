import json

import pytest

from edpbrl.errors import EdpbrlError
from edpbrl.experiments.bench_encoder_memory import run


def test_one_row_per_spec_from_a_fresh_process_each():
    rows = run(specs=("hashing:32",), calls=5)
    assert [(r["spec"], r["path"]) for r in rows] == [("hashing:32", "edpbrl")]  # no package baseline
    r = rows[0]
    assert r["calls"] == 5 and 5 <= r["texts"] <= 200 and r["ms_per_text"] > 0
    assert r["rss_start_mb"] > 10 and r["growth_mb"] == pytest.approx(r["rss_end_mb"] - r["rss_start_mb"])


def test_the_package_baseline_only_for_the_sentence_transformers_minilm(monkeypatch):
    import subprocess

    started = []

    def fake(args, **kw):
        started.append(tuple(args[-4:-2]))
        row = {"spec": args[-4], "path": args[-3], "calls": 1, "texts": 1, "rss_start_mb": 1.0,
               "rss_end_mb": 1.0, "growth_mb": 0.0, "ms_per_text": 1.0}  # fmt: skip
        return subprocess.CompletedProcess(args, 0, json.dumps(row))

    monkeypatch.setattr(subprocess, "run", fake)
    run(specs=("minilm", "minilm-static", "hashing:32"), calls=1)
    assert started == [
        ("minilm", "edpbrl"), ("minilm", "package"), ("minilm-static", "edpbrl"), ("hashing:32", "edpbrl")
    ]  # fmt: skip


def test_an_unknown_spec_is_one_error_before_any_process_starts(monkeypatch):
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a child was started"))
    with pytest.raises(EdpbrlError, match="nonsense-encoder"):
        run(specs=("hashing:32", "nonsense-encoder"), calls=1)


def test_a_failing_child_is_one_error_naming_the_spec(monkeypatch):
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, ""))
    with pytest.raises(EdpbrlError, match=r"hashing:32 \(edpbrl\) failed"):
        run(specs=("hashing:32",), calls=1)
