"""The command line: JSON contracts and one-line errors."""

import json

import pytest

from edpbrl.cli import main


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_design_json(tiny_vocab_dir, capsys):
    assert main(["design", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16", "--json"]) == 0
    out = _json(capsys)
    assert out["certificate"]["relative_gap"] <= 1e-4
    assert [s["slot"] for s in out["slots"]] == ["subject", "style", "light"]


def test_simulate_json_contract(tiny_vocab_dir, capsys):
    rc = main(
        [
            "simulate",
            "--style",
            "sunny",
            "--method",
            "ed-pbrl",
            "--method",
            "random",
            "--episodes",
            "3",
            "--episodes",
            "6",
            "--seeds",
            "2",
            "--k",
            "3",
            "--vocab",
            str(tiny_vocab_dir),
            "--embedder",
            "hashing:16",
            "--no-progress",
            "--json",
        ]
    )
    assert rc == 0
    res = _json(capsys)["results"]
    assert len(res) == 4
    keys = {
        "style",
        "method",
        "episodes",
        "cosine_error_mean",
        "cosine_error_se",
        "preference_error_mean",
        "preference_error_se",
        "seconds",
    }
    assert all(keys <= set(r) for r in res)


def test_experiment_ceiling_json_table_and_file(tiny_vocab_dir, capsys, tmp_path):
    args = ["experiment", "ceiling", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16", "--k", "3"]
    args += ["--style", "sunny", "--questions", "3", "--questions", "6", "--pool", "20", "--orders", "2"]
    assert main([*args, "--no-progress", "--json"]) == 0
    (r,) = _json(capsys)["results"]
    assert r["questions"] == [3, 6] and len(r["oracle_variance"]) == 2
    assert all(o <= v for o, v in zip(r["oracle_variance"], r["random_variance"]))
    out = tmp_path / "c.json"
    assert main([*args, "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "random Qs for oracle" in text and "nats oracle" in text and text.count("sunny") == 3
    assert "departure from the prior's mean" in text
    assert json.loads(out.read_text())["results"][0]["style"] == "sunny"


def test_bench_design_json(capsys):
    rc = main(["bench", "design", "--slots", "2", "--words", "50", "--dim", "16", "--json"])
    assert rc == 0
    out = _json(capsys)
    assert {"seconds", "iterations", "gap", "relative_gap", "objective"} <= set(out)
    assert out["relative_gap"] <= 1e-4


def test_personalize_from_style(tiny_vocab_dir, capsys):
    assert (
        main(
            [
                "personalize",
                "--style",
                "sunny",
                "--vocab",
                str(tiny_vocab_dir),
                "--embedder",
                "hashing:16",
                "--n",
                "2",
                "--json",
            ]
        )
        == 0
    )
    assert len(_json(capsys)["prompts"]) == 2


def test_one_line_errors(tmp_path, capsys):
    assert main(["design", "--vocab", str(tmp_path / "missing"), "--embedder", "hashing"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edpbrl: error: vocabulary directory not found") and "\n" not in err
    assert main(["design", "--lam", "0", "--embedder", "hashing"]) == 2
    assert "λ must be > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["design", "--criterion", "Q"])


def test_method_options_on_the_command_line(tiny_vocab_dir, capsys):
    """--method NAME:key=value runs with that option and reports the spec; a misspelt option is
    argparse's one-line usage error naming the method's options."""
    args = ["simulate", "--style", "sunny", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16"]
    args += ["--k", "3", "--episodes", "1", "--seeds", "1", "--no-progress", "--json"]
    assert main([*args, "--method", "risk-gain-encoded:spread=3,pool=20"]) == 0
    (r,) = _json(capsys)["results"]
    assert r["method"] == "risk-gain-encoded:spread=3,pool=20"
    with pytest.raises(SystemExit) as e:
        main([*args, "--method", "risk-gain-encoded:sprad=3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "method 'risk-gain-encoded' has no option 'sprad' (its options: pool, pool_seed" in err


def test_every_option_has_help():
    import argparse

    from edpbrl.cli import build_parser

    missing = []

    def walk(p, path):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, [*path, name])
            elif not a.help and a.dest != "help":
                missing.append(f"{' '.join(path)} {a.dest}")

    walk(build_parser(), ["edpbrl"])
    assert not missing, missing


def test_experiment_guess_json_table_and_file(tiny_vocab_dir, capsys, tmp_path):
    args = ["experiment", "guess", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16", "--k", "3"]
    args += ["--style", "sunny", "--style", "noir", "--prior", "packaged", "--words", "auto", "--no-progress"]
    assert main([*args, "--json"]) == 0
    rows = _json(capsys)["results"]
    assert [r["style"] for r in rows] == ["sunny", "noir"]
    assert all(0 <= v <= 1 for r in rows for v in r["preference_error"].values())
    out = tmp_path / "g.json"
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "population span (o)" in text and "prior + words" in text and text.count("noir") == 1
    assert json.loads(out.read_text())["results"][1]["style"] == "noir"
    assert main([*args[:-5], "--prior", "none", "--no-progress"]) == 2
    assert "needs a prior" in capsys.readouterr().err


def test_bench_gains_json(capsys):
    args = ["bench", "gains", "--candidates", "10", "--dim", "8", "--rank", "2", "--repeats", "1", "--json"]
    assert main(args) == 0
    rows = _json(capsys)
    assert [r["gain"] for r in rows] == ["variance", "risk"]
    assert all(r["max_relative_difference"] < 1e-10 for r in rows)
