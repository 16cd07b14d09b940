"""The experiment commands: a reduced curves run writes JSON/CSV/PNG; the efficiency table."""

import json
import math

import pytest

from edpbrl.cli import build_parser, main
from edpbrl.experiments.report import efficiency_table, episodes_to_reach, table_markdown
from edpbrl.experiments.timing import time_methods


def test_episodes_to_reach():
    assert episodes_to_reach([10, 25, 50], [0.5, 0.4, 0.3], 0.3) == 50
    assert episodes_to_reach([10, 25, 50], [0.5, 0.4, 0.3], 0.45) == pytest.approx(17.5)
    assert episodes_to_reach([10, 25, 50], [0.2, 0.1, 0.05], 0.3) == 10
    assert math.isinf(episodes_to_reach([10, 25, 50], [0.5, 0.45, 0.4], 0.3))


def _row(style, method, ep, ce):
    return {
        "style": style,
        "method": method,
        "episodes": ep,
        "cosine_error_mean": ce,
        "cosine_error_se": 0.01,
        "preference_error_mean": ce / 2,
        "preference_error_se": 0.01,
    }


def test_efficiency_table_on_synthetic_rows():
    rows = []
    for s in ("sunny", "medieval"):
        rows += [_row(s, "random", e, c) for e, c in ((10, 0.6), (25, 0.5), (50, 0.4))]
        rows += [_row(s, "good", e, c) for e, c in ((10, 0.5), (25, 0.4), (50, 0.3))]
        rows += [_row(s, "bad", e, c) for e, c in ((10, 0.7), (25, 0.65), (50, 0.6))]
    tab = efficiency_table(rows)
    cell = {(t["style"], t["method"]): t for t in tab}
    assert cell[("sunny", "random")]["episodes_needed"] == 50
    assert cell[("sunny", "good")]["episodes_needed"] == 25
    assert math.isinf(cell[("medieval", "bad")]["episodes_needed"])
    md = table_markdown(tab)
    assert "| good | 25.0 (0.300 ± 0.010) | 25.0 (0.300 ± 0.010) |" in md
    assert ">50" in md
    # reference budget other than the largest
    tab25 = efficiency_table(rows, reference=25)
    assert {(t["style"], t["method"]): t for t in tab25}[("sunny", "good")]["episodes_needed"] == 10


def test_curves_command_writes_outputs(tmp_path, tiny_vocab_dir, capsys):
    out = tmp_path / "res"
    argv = ["experiment", "curves", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing"]
    argv += ["--style", "sunny", "--method", "random", "--method", "ed-pbrl"]
    argv += ["--method", "info-gain", "--episodes", "2", "--episodes", "4", "--seeds", "2"]
    argv += ["--out", str(out), "--no-progress"]
    assert main(argv) == 0
    for f in ("results.json", "results.csv", "runs.csv", "table.md"):
        assert (out / f).stat().st_size > 0
    for f in ("cosine_error.png", "preference_error.png"):
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = json.loads((out / "results.json").read_text())
    assert len(res["results"]) == 3 * 2
    assert all(r["seeds"] == 2 for r in res["results"])
    assert len(res["runs"]) == 3 * 2 * 2
    capsys.readouterr()
    assert main(["experiment", "table", str(out / "results.json"), "--reference", "4"]) == 0
    text = capsys.readouterr().out
    assert "| info-gain |" in text and "| random | 4.0" in text
    merged = tmp_path / "merged"
    assert main(["experiment", "merge", str(out / "results.json"), "--out", str(merged)]) == 0
    again = json.loads((merged / "results.json").read_text())
    assert again["results"] == res["results"]
    assert (merged / "cosine_error.png").exists()


def test_timing(tiny_vocab_dir):
    rows = time_methods(
        ["random", "dopt-pool", "info-gain"], 3, vocab=str(tiny_vocab_dir), embedder="hashing"
    )
    assert [r["method"] for r in rows] == ["random", "dopt-pool", "info-gain"]
    assert rows[2]["plan_calls"] == 3 and rows[1]["plan_calls"] == 1
    for r in rows:
        assert r["seconds_per_episode"] == pytest.approx(r["seconds_total"] / 3)
        assert r["seconds_per_question"] == pytest.approx(r["seconds_total"] / r["questions"])


def test_parser_has_experiment_commands():
    p = build_parser()
    a = p.parse_args(["experiment", "timing", "--method", "random"])
    assert a.episodes == 25


# -- merge: the same runs are counted once, conflicting ones refused ---------------------------------
def _run(method, seed, ce, style="sunny", ep=10):
    return {
        "style": style,
        "method": method,
        "episodes": ep,
        "seed": seed,
        "cosine_error": ce,
        "preference_error": ce / 2,
        "choice_accuracy": 0.5,
        "questions": 6 * ep,
        "seconds": 1.0 + seed,
    }


def _results_file(path, runs, lam=1.0):
    from edpbrl.experiments.report import aggregate

    config = {"k": 4, "rationality": 10.0, "lam": lam, "embedder": "hashing", "seeds": 2, "wall_seconds": 3.0}
    path.write_text(json.dumps({"results": aggregate(runs), "runs": runs, "config": config}))
    return path


def test_merge_counts_a_run_once_and_refuses_the_same_file_twice(tmp_path):
    from edpbrl.errors import EdpbrlError
    from edpbrl.experiments.report import merge_results

    a = _results_file(tmp_path / "a.json", [_run("random", 0, 0.5), _run("random", 1, 0.6)])
    with pytest.raises(EdpbrlError, match=f"^results file given twice: {a}$"):
        merge_results([a, a])
    with pytest.raises(EdpbrlError, match="given twice"):
        merge_results([a, tmp_path / "." / "a.json"])
    # a copy (e.g. a chunk merged twice) and a new seed: the copy's runs are counted once
    runs_b = [{**_run("random", 1, 0.6), "seconds": 9.0}, _run("random", 2, 0.7)]
    b = _results_file(tmp_path / "b.json", runs_b)
    res = merge_results([a, b])
    assert sorted(r["seed"] for r in res["runs"]) == [0, 1, 2]
    (row,) = res["results"]
    assert row["seeds"] == 3 and row["cosine_error_mean"] == pytest.approx(0.6)
    assert row["cosine_error_se"] == pytest.approx(0.1 / 3**0.5)
    assert res["config"]["duplicate_runs_dropped"] == 1 and res["config"]["lam"] == 1.0


def test_merge_refuses_one_seed_with_two_results(tmp_path):
    from edpbrl.errors import EdpbrlError
    from edpbrl.experiments.report import merge_results

    a = _results_file(tmp_path / "a.json", [_run("random", 0, 0.5)])
    b = _results_file(tmp_path / "b.json", [_run("random", 0, 0.55)])
    with pytest.raises(EdpbrlError) as e:
        merge_results([a, b])
    assert str(e.value) == (
        f"{a} and {b} both hold style sunny, method random, 10 episodes, seed 0 with different results; "
        "a seed is one run, so they cannot both be counted"
    )
    c = _results_file(tmp_path / "c.json", [_run("random", 0, 0.5)], lam=10.0)
    with pytest.raises(
        EdpbrlError, match=r"run with different settings \(lam\); merge only runs of one setting$"
    ):
        merge_results([a, c])


def test_merge_command(tmp_path, capsys):
    a = _results_file(tmp_path / "a.json", [_run("random", 0, 0.5), _run("ed-pbrl", 0, 0.4)])
    b = _results_file(tmp_path / "b.json", [_run("random", 0, 0.5), _run("ed-pbrl", 1, 0.45)])
    assert main(["experiment", "merge", str(a), str(a), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == f"edpbrl: error: results file given twice: {a}\n"
    assert not (tmp_path / "m").exists()
    assert main(["experiment", "merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 0
    assert "(3 runs; 1 duplicate runs counted once)" in capsys.readouterr().out


def test_table_errors(tmp_path, capsys):
    a = _results_file(tmp_path / "a.json", [_run("random", 0, 0.5, ep=e) for e in (2, 4)])
    assert main(["experiment", "table", str(a), "--reference", "50"]) == 2
    err = capsys.readouterr().err
    assert err == "edpbrl: error: random has no result at 50 episodes for style sunny (it has 2, 4)\n"
    assert main(["experiment", "table", str(a), "--baseline", "nosuch"]) == 2
    assert (
        capsys.readouterr().err
        == "edpbrl: error: baseline 'nosuch' is not in the results (methods: random)\n"
    )
    assert main(["experiment", "table", str(a), "--reference", "4"]) == 0
    assert "Episodes needed to reach random's mean cosine error at 4 episodes" in capsys.readouterr().out
