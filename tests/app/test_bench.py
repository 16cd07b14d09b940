"""Short versions of the load and crash tests (``edpbrl bench app|crash``) on the tiny vocabulary
with the hashing encoder: real server processes on loopback, simulated people, the store read
back. The full-size runs and their figures are in docs/app.md."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx", reason="the bench needs httpx")

from edpbrl.app.bench import CrashConfig, LoadConfig, run_crash, run_load  # noqa: E402
from edpbrl.app.bench.crash import format_crash  # noqa: E402
from edpbrl.app.bench.load import format_report  # noqa: E402
from edpbrl.app.bench.server import BenchError, check_loopback  # noqa: E402


def _server_args(vocab) -> list[str]:
    return ["--vocab", str(vocab), "--embedder", "hashing", "--k", "3", "--episodes", "3"]


def test_short_load_run(tiny_vocab_dir):
    cfg = LoadConfig(people=5, questions=6, think=0.05, seconds=20, server_args=_server_args(tiny_vocab_dir))
    r = run_load(cfg)
    text = format_report(r)
    assert r["people"]["started"] == r["people"]["reached_results_and_exports"] == 5, text
    assert r["errors"]["5xx"] == 0 and r["errors"]["dropped_connections"] == 0, text
    a = r["answers"]
    assert a["acknowledged"] >= 5 * 6 and a["lost"] == 0 and a["duplicated"] == 0, text
    assert a["stored"] == a["acknowledged"] and a["stored_not_acknowledged"] == 0, text
    assert a["undos_stored"] == a["undos_acknowledged"] and not a["replay_errors"], text
    for name in ("create", "answer", "question", "results", "export jsonl", "export theta"):
        assert r["endpoints"][name]["n"] >= 5 and r["endpoints"][name]["p95"] > 0, name
    assert r["memory"]["peak_mb"] > 0 and r["server_cpu_s"] is not None
    assert "answers:" in text and "server RSS" in text


def test_short_crash_run(tiny_vocab_dir):
    cfg = CrashConfig(
        kills=1,
        people=4,
        questions=6,
        think=0.1,
        gap=(2.0, 3.0),
        after=2.0,
        server_args=_server_args(tiny_vocab_dir),
    )
    r = run_crash(cfg)
    text = format_crash(r)
    a = r["answers"]
    assert len(r["kills"]) == 1 and a["acknowledged"] > 0, text
    assert a["lost"] == 0 and a["duplicated"] == 0 and not a["replay_errors"], text
    assert a["stored"] >= a["acknowledged"], text
    assert r["next_accepted_answer"]["from_server_back_s"]["n"] >= 1, text
    assert r["people"]["failed"] == 0, text


def test_loopback_only():
    assert check_loopback("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert check_loopback("http://localhost:1") and check_loopback("http://[::1]:5")
    for url in ("http://example.org", "http://10.0.0.2:8000", "http://0.0.0.0:80"):
        with pytest.raises(BenchError, match="loopback only"):
            check_loopback(url)
    with pytest.raises(BenchError, match="people"):
        LoadConfig(people=10_000).check()
    with pytest.raises(BenchError, match="between"):
        LoadConfig(seconds=10**6).check()
