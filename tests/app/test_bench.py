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


def test_a_recovery_acknowledged_before_the_killer_sees_the_server_counts():
    """People retry at once, so the first answer the new process accepts can be acknowledged
    before the killer's poll records the server as back (a CI run once found no recovery at all
    because every session's next answer fell in that window). Recovery is the first answer sent
    after the old process was gone; an answer the old process took just before it died is not."""
    from edpbrl.app.bench.crash import _recoveries
    from edpbrl.app.bench.people import Ack, Ledger

    kill = {"at": 10.0, "dead_at": 10.01, "up_at": 12.5}
    led = Ledger()
    led.acks += [
        Ack("a", "q1", "choose", 0, first_try=9.0, at=9.1, sent=9.0),  # before the kill
        Ack("a", "q2", "choose", 0, first_try=9.99, at=10.005, sent=9.99),  # the old process's reply
        Ack("a", "q3", "choose", 0, first_try=10.2, at=12.4, sent=12.3),  # the new one, before up_at
        Ack("a", "q4", "choose", 0, first_try=12.6, at=12.7, sent=12.6),
        Ack("b", "q1", "choose", 0, first_try=9.5, at=9.6, sent=9.5),
        Ack("b", "q2", "choose", 0, first_try=11.0, at=13.0, sent=12.8),
    ]
    from_up, from_kill = _recoveries(led, [kill])
    assert from_up == pytest.approx([0.0, 0.5]) and from_kill == pytest.approx([2.2, 2.0])


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
