"""``edpbrl prior fit`` / ``edpbrl prior show``: a prior file round trip and its errors."""

from __future__ import annotations

import json

import numpy as np

from edpbrl.prior import Prior

from .test_errors import run


def _styles(tmp_path, n=4):
    d = tmp_path / "styles"
    d.mkdir()
    for i in range(n):
        (d / f"style_{i}.txt").write_text(
            "\n".join(f"An image of thing {i} number {j}" for j in range(5)) + "\n"
        )
    return d


def test_fit_then_show(tmp_path, capsys):
    d = _styles(tmp_path)
    out = tmp_path / "p.npz"
    code, err, text = run(
        ["prior", "fit", "--styles", str(d), "--embedder", "hashing:32", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert text.startswith(f"wrote {out}: 4 members")
    prior = Prior.load(out)
    assert prior.mean.shape == (32,) and prior.names == ("style 0", "style 1", "style 2", "style 3")
    code, err, text = run(["prior", "show", str(out), "--json"], capsys)
    assert code == 0, err
    info = json.loads(text)
    assert info["members"] == 4 and info["embedder"] == "hashing:32"
    np.testing.assert_allclose(Prior.load(out).mean, prior.mean)
    code, _, text = run(["prior", "show", str(out)], capsys)
    assert code == 0 and "4 members" in text and "style 0, style 1" in text
    assert not info["words_map"] and "·words\n" in text and "W·words" not in text
    mapped = tmp_path / "mapped.npz"
    args = [
        "prior",
        "fit",
        "--styles",
        str(d),
        "--embedder",
        "hashing:32",
        "--words-map",
        "--out",
        str(mapped),
    ]
    assert run(args, capsys)[0] == 0
    assert Prior.load(mapped).words_map.shape == (32, 32)
    code, _, text = run(["prior", "show", str(mapped)], capsys)
    assert "+ W·words (ridge α = " in text


def test_fit_errors(tmp_path, capsys):
    code, err, _ = run(["prior", "fit", "--out", str(tmp_path / "p.npz")], capsys)
    assert (code, err) == (2, "edpbrl: error: give --styles DIR (repeatable), --packaged or --db STORE")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err, _ = run(["prior", "fit", "--styles", str(empty), "--out", str(tmp_path / "p.npz")], capsys)
    assert (code, err) == (2, f"edpbrl: error: --styles {empty}: not a directory of .txt style files")
    code, err, _ = run(["prior", "show", str(tmp_path / "missing.npz")], capsys)
    assert (code, err) == (2, f"edpbrl: error: prior file not found: {tmp_path / 'missing.npz'}")
