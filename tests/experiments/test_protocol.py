"""Protocols: presets of the simulation; the paper's pooled vocabulary; overriding one ingredient."""

from __future__ import annotations

import json

import pytest

from edpbrl.cli import main
from edpbrl.errors import EdpbrlError
from edpbrl.experiments.protocol import PROTOCOLS
from edpbrl.experiments.simulate import SimConfig, design_and_test, setup_world
from edpbrl.vocab import Vocabulary


def test_presets_and_overrides():
    paper, ours = PROTOCOLS.get("paper"), PROTOCOLS.get("ours")
    cfg = paper.config()
    assert (cfg.vocab_mode, cfg.rationality, cfg.criterion, cfg.lam, cfg.k) == ("pooled", 1.0, "V", 0.1, 4)
    assert ours.config() == SimConfig(
        vocab="paper"
    )  # ours is the harness's default setting on the paper data
    assert paper.config(rationality=10.0, lam=None).rationality == 10.0  # one ingredient switched
    assert paper.config(lam=None).lam == 0.1
    assert paper.budgets == ours.budgets == (10, 25, 50, 80) and paper.seeds == 20


def test_pooled_design_vocabulary_with_slot_specific_test_words(tiny_vocab):
    design, test = design_and_test(tiny_vocab, "pooled")
    assert design.repeats == "blank"
    assert design[1].entries == design[2].entries and design[1].entries[-1] == ""
    assert set(test[1].entries).isdisjoint(design[1].entries)  # held-out words stay held out
    assert test[1].entries != test[2].entries  # and slot-specific
    per_slot, test2 = design_and_test(tiny_vocab, "per-slot")
    assert test2.to_dict() == test.to_dict() and per_slot[1].entries != per_slot[2].entries
    with pytest.raises(EdpbrlError, match="unknown vocabulary mode"):
        design_and_test(tiny_vocab, "shared")


def test_simulate_under_the_paper_protocol(tiny_vocab_dir, capsys):
    argv = ["simulate", "--protocol", "paper", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16"]
    argv += [
        "--style",
        "sunny",
        "--method",
        "ed-pbrl",
        "--method",
        "random",
        "--episodes",
        "2",
        "--seeds",
        "1",
    ]
    assert main([*argv, "--no-progress", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert {r["method"] for r in rows} == {"ed-pbrl", "random"}
    w = setup_world(PROTOCOLS.get("paper").config(vocab=str(tiny_vocab_dir), embedder="hashing:16"))
    assert w.design_vocab.repeats == "blank" and len(set(w.design_vocab.sizes[1:])) == 1


def test_simulate_without_protocol_still_needs_its_grid(tiny_vocab_dir, capsys):
    assert main(["simulate", "--vocab", str(tiny_vocab_dir), "--method", "random", "--episodes", "2"]) == 2
    assert "--style is required (or give --protocol for its defaults)" in capsys.readouterr().err


def test_pooled_vocabulary_from_directory(tiny_vocab_dir):
    v = Vocabulary.from_dir(tiny_vocab_dir).pooled()
    assert v.sizes == [8, 17, 17]
