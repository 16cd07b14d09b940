"""Exports of stored app sessions (no web server needed)."""

from __future__ import annotations

import json
import os
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edpbrl.app.sessions import SessionManager  # noqa: E402
from edpbrl.export import (  # noqa: E402
    FORMATS,
    TRL_INSTRUCTION,
    ExportError,
    build_export,
    export_session,
    public_id,
    shared_text,
    trl_prompt,
)
from edpbrl.render import ImageCache  # noqa: E402
from edpbrl.replay import restore  # noqa: E402
from edpbrl.store import SQLiteStore  # noqa: E402


class Painter:
    model_id = "painter:v1"

    def render(self, prompt, seed):
        return Image.new("RGB", (8, 8), (seed % 256, len(prompt) % 256, 0))


@pytest.fixture(scope="module")
def session(tmp_path_factory, tiny_vocab_dir):
    """A stored session: 3 live choices, 1 no-preference, 1 skip, 1 undone choice, images."""
    root = tmp_path_factory.mktemp("export")
    vocab = tiny_vocab_dir
    store = SQLiteStore(root / "app.db")
    m = SessionManager(store, vocab=str(vocab), embedder="hashing")
    rt = m.create(style="foggy coast", k=3, episodes=2)
    t0 = time.monotonic()
    while rt.state != "ready":
        assert rt.state == "designing" and time.monotonic() - t0 < 30
        time.sleep(0.01)
    cache, painter = ImageCache(root / "images"), Painter()
    with rt.lock:
        for action, pos in [
            ("choose", 0),
            ("no_preference", None),
            ("choose", 1),
            ("skip", None),
            ("choose", 0),
            ("choose", 1),
        ]:
            _, shown = m.current(rt)
            for i, text in enumerate(shown["options"]):
                path = cache.get(painter, text, shown["seeds"][i])
                store.record_image(
                    rt.sid, prompt=text, seed=shown["seeds"][i], model_id=painter.model_id, path=str(path)
                )
            m.answer(rt, shown["id"], action, pos)
        m.undo(rt)
    return root / "app.db", rt.sid, rt.p


def test_helpers():
    assert shared_text(["a cat, oil, fog", "a cat, ink, fog"]) == "a cat, fog"
    assert shared_text(["a cat", "a dog"]) == "" and shared_text([]) == ""
    assert trl_prompt("") == TRL_INSTRUCTION and "a cat" in trl_prompt("a cat")
    assert len(public_id("token")) == 16 and public_id("token") != public_id("token2")


def test_jsonl(session, tmp_path):
    db, sid, _ = session
    [out] = export_session(db, sid, "jsonl", tmp_path / "qa.jsonl")
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    head, rest = recs[0], recs[1:]
    assert head["record"] == "session" and head["style"] == "foggy coast"
    assert head["session"] == public_id(sid) and sid not in out.read_text()
    assert head["config"]["embedder"] == "hashing" and head["certificate"]["relative_gap"] <= 1e-4
    answers = [r for r in rest if r["record"] == "answer"]
    questions = [r for r in rest if r["record"] == "question"]
    assert [a["action"] for a in answers] == ["choose", "no_preference", "choose", "skip", "choose", "choose"]
    assert [a["undone"] for a in answers] == [False] * 5 + [True]
    assert len(questions) == 6 and questions[0]["index"] == 0
    for a in answers:
        if a["action"] == "choose":
            assert a["chosen"] == a["options"][a["display_order"][a["position"]]]
    stamps = [r.get("answered_at") or r.get("shown_at") for r in rest]
    assert stamps == sorted(stamps)


def test_trl(session, tmp_path):
    db, sid, p = session
    [out] = export_session(db, sid, "trl", tmp_path / "trl.jsonl")
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    assert all(r["prompt"].startswith(TRL_INSTRUCTION) and r["chosen"] != r["rejected"] for r in rows)
    chosen = {r["chosen"] for r in rows}
    assert len(chosen) <= 3 and len(rows) >= 3  # three live "choose" answers (a 4th was undone)


def test_pickapic_jsonl_with_images(session, tmp_path):
    db, sid, _ = session
    written = export_session(db, sid, "pickapic", tmp_path / "pap.jsonl")
    out = written[0]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    cols = {
        "caption",
        "caption_0",
        "caption_1",
        "jpg_0",
        "jpg_1",
        "label_0",
        "label_1",
        "image_0_uid",
        "image_1_uid",
        "best_image_uid",
        "ranking_id",
        "user_id",
        "has_label",
    }
    assert cols <= set(rows[0])
    decided = [r for r in rows if r["has_label"]]
    ties = [r for r in rows if not r["has_label"]]
    assert decided and ties and all(r["label_0"] == 0.5 for r in ties)
    assert all(r["label_0"] in (0.0, 1.0) and r["label_0"] + r["label_1"] == 1 for r in decided)
    for r in decided:
        best = r["image_0_uid"] if r["label_0"] == 1 else r["image_1_uid"]
        assert r["best_image_uid"] == best
    for r in rows:
        for col in ("jpg_0", "jpg_1"):
            img = out.parent / r[col]
            assert img.is_file() and img.parent.name == "pap_images"
            assert Image.open(img).size == (8, 8)
    assert len(written) == 1 + len({r[c] for r in rows for c in ("jpg_0", "jpg_1")})


def test_pickapic_zip(session, tmp_path):
    db, sid, _ = session
    [out] = export_session(db, sid, "pickapic", tmp_path / "pap.zip")
    with zipfile.ZipFile(out) as z:
        rows = [json.loads(x) for x in z.read("pickapic.jsonl").decode().splitlines()]
        names = set(z.namelist())
    assert all(r["jpg_0"] in names and r["jpg_1"] in names for r in rows)


def test_theta_json_and_npy(session, tmp_path):
    db, sid, p = session
    written = export_session(db, sid, "theta", tmp_path / "theta.json")
    assert [w.name for w in written] == ["theta.json", "theta.npy"]
    meta = json.loads(written[0].read_text())
    vec = np.load(written[1])
    np.testing.assert_allclose(vec, meta["theta"])
    np.testing.assert_allclose(vec, p.fit())  # the replayed session gives the live θ̂
    np.testing.assert_allclose(vec, restore(SQLiteStore(db), sid).fit())
    assert meta["n_answers"] == 3 and meta["dim"] == vec.shape[0] and meta["style"] == "foggy coast"
    assert len(meta["best_prompts"]) == 4 and meta["summary"]["n_answers"] == 3
    # the varied prompts of the app's results page, not the plain top 4
    assert [b["prompt"] for b in meta["best_prompts"]] == p.best_prompts(n=4, min_diff_slots=2)
    [npy] = export_session(db, sid, "npy", tmp_path / "only.npy")
    np.testing.assert_allclose(np.load(npy), vec)


def test_errors(session, tmp_path):
    db, sid, _ = session
    with pytest.raises(ExportError, match="unknown export format"):
        export_session(db, sid, "csv", tmp_path / "x")
    with pytest.raises(ExportError, match="unknown session"):
        export_session(db, "no-such-session", "jsonl", tmp_path / "x")
    with pytest.raises(ExportError, match="database not found"):
        export_session(tmp_path / "missing.db", sid, "jsonl", tmp_path / "x")
    with pytest.raises(ExportError, match="unknown export format"):
        build_export(SQLiteStore(db), sid, "xml")
    assert set(FORMATS) == {"jsonl", "trl", "pickapic", "theta", "npy"}


def test_session_named_by_its_public_id(session, tmp_path):
    """The id an export shows (its 'session' field) names the session for `edpbrl export`; the
    app's byte exports (HTTP) still take only the token, the credential."""
    from edpbrl.export import find_session

    db, sid, _ = session
    store = SQLiteStore(db)
    pub = public_id(sid)
    assert find_session(store, sid) == sid and find_session(store, pub) == sid
    assert find_session(store, pub.upper()) == sid
    [out] = export_session(db, pub, "jsonl", tmp_path / "by-public-id.jsonl")
    assert json.loads(out.read_text().splitlines()[0])["session"] == pub
    with pytest.raises(ExportError) as e:
        find_session(store, "0123456789abcdef")
    assert str(e.value) == (
        f"unknown session '0123456789abcdef' in {store.url}: give the token from the session's link or "
        "the public id in an export's 'session' field"
    )
    with pytest.raises(ExportError, match="unknown session"):
        build_export(store, pub, "jsonl")


def test_tokens_never_start_with_a_dash(monkeypatch):
    # a token such as '-ScjJ...' was read as an option by `edpbrl export TOKEN` (1 in 64 sessions)
    from edpbrl.store import base

    drawn = iter(["-first", "_second"])
    monkeypatch.setattr(base.secrets, "token_urlsafe", lambda n: next(drawn))
    assert base.new_token() == "_second"


def test_export_command_takes_an_old_dash_token_after_double_dash(
    tiny_vocab_dir, tmp_path, capsys, monkeypatch
):
    from edpbrl.cli import main
    from edpbrl.store import sqlite

    monkeypatch.setattr(sqlite, "new_token", lambda: "-" + "A" * 31)  # as tokens could start before
    store = SQLiteStore(tmp_path / "old.db")
    sid = store.create_session(style="old", k=3, episodes=1)
    store.set_design(sid, config={"k": 3}, certificate=None, n_questions=0, seconds=0.0)
    assert sid.startswith("-")
    assert (
        main(["export", "--db", str(tmp_path / "old.db"), "--format", "jsonl", "--out", "-", "--", sid]) == 0
    )
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["record"] == "session" and first["session"] == public_id(sid) and first["style"] == "old"


def test_export_command(session, tmp_path, capsys):
    from edpbrl.cli import main

    db, sid, _ = session
    pub = public_id(sid)
    # the public id shown in the JSONL, and '-' for standard output
    assert main(["export", pub, "--db", str(db), "--format", "jsonl", "--out", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0])["session"] == pub and len(lines) > 3
    assert main(["export", sid, "--db", str(db), "--format", "trl", "--out", "-"]) == 0
    assert all("chosen" in json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    # binary and multi-file formats refuse '-'
    for fmt in ("npy", "pickapic"):
        assert main(["export", sid, "--db", str(db), "--format", fmt, "--out", "-"]) == 2
        assert capsys.readouterr().err == (
            f"edpbrl: error: --out -: the {fmt} format is binary or several files; give a file path\n"
        )
    # --out checks, before exporting
    out = tmp_path / "nodir" / "x.jsonl"
    assert main(["export", sid, "--db", str(db), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"edpbrl: error: --out {out}: directory {out.parent} does not exist (create it first)\n"
    assert main(["export", sid, "--db", str(db), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"edpbrl: error: --out {tmp_path} is a directory; give a file name\n"
    (tmp_path / "t.npy").write_bytes(b"old")
    assert main(["export", sid, "--db", str(db), "--format", "theta", "--out", str(tmp_path / "t.json")]) == 2
    assert capsys.readouterr().err == (
        f"edpbrl: error: --out {tmp_path / 't.npy'} exists; add --force to overwrite it\n"
    )
    argv = ["export", sid, "--db", str(db), "--format", "theta", "--out", str(tmp_path / "t.json"), "--force"]
    assert main(argv) == 0
    assert np.load(tmp_path / "t.npy").shape == (64,)


def test_theta_export_feeds_personalize(session, tmp_path, tiny_vocab_dir, capsys):
    """`personalize --theta` reads what `export --format theta` writes (the JSON and the .npy)."""
    from edpbrl.cli import main

    db, sid, p = session
    export_session(db, sid, "theta", tmp_path / "theta.json")
    got = []
    for f in ("theta.json", "theta.npy"):
        argv = ["personalize", "--theta", str(tmp_path / f), "--vocab", str(tiny_vocab_dir)]
        assert main([*argv, "--embedder", "hashing", "--n", "3", "--json"]) == 0
        got.append(json.loads(capsys.readouterr().out)["prompts"])
    assert got[0] == got[1] and len(got[0]) == 3
    assert [g["prompt"] for g in got[0]] == p.best_prompts(n=3, candidates=None)  # the CLI encodes all
