"""Fetching the paper's data: pinned commits, checksums, local mirrors, offline copies."""

from __future__ import annotations

import hashlib

import pytest

import edpbrl.data as data
from edpbrl.cli import main
from edpbrl.errors import EdpbrlError
from edpbrl.users import read_style


@pytest.fixture
def fake_paper(tmp_path, monkeypatch):
    """A fake manifest of two files, a file:// mirror laid out like raw.githubusercontent.com,
    and an offline copy laid out like the data directory; the data directory is isolated."""
    contents = {"vocabulary/1_bases.txt": b"A man drinking tea\n", "styles/sunny.txt": b"A bright sunrise\n"}
    files = tuple(
        data.DataFile(path, f"experiments/{path}", "c0ffee" * 6 + "abcd", hashlib.sha256(body).hexdigest())
        for path, body in contents.items()
    )
    monkeypatch.setattr(data, "PAPER_FILES", files)
    mirror, offline = tmp_path / "mirror", tmp_path / "offline"
    for f in files:
        src = mirror / data.PAPER_REPOSITORY / f.commit / f.source
        src.parent.mkdir(parents=True)
        src.write_bytes(contents[f.path])
        (offline / f.path).parent.mkdir(parents=True, exist_ok=True)
        (offline / f.path).write_bytes(contents[f.path])
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "data"))
    return files, mirror, offline


def test_download_from_a_mirror_verifies_and_is_idempotent(fake_paper, tmp_path):
    files, mirror, _ = fake_paper
    with pytest.raises(
        EdpbrlError, match=r"not in .* \(2 of 2 files missing or changed\): run `edpbrl data paper`"
    ):
        data.paper_dir()
    root = data.fetch_paper_data(url_base=mirror.as_uri())
    assert root == tmp_path / "data" / "paper" == data.paper_dir()
    assert (root / "styles" / "sunny.txt").read_bytes() == b"A bright sunrise\n"
    assert read_style("paper:sunny") == ["A bright sunrise"]
    assert data.resolve_vocabulary("paper") == str(root / "vocabulary")
    assert data.resolve_vocabulary("elsewhere") == "elsewhere"
    (mirror / data.PAPER_REPOSITORY).rename(tmp_path / "gone")  # already verified: nothing fetched
    assert data.fetch_paper_data(url_base=mirror.as_uri()) == root


def test_a_changed_file_is_refused_and_not_written(fake_paper, tmp_path):
    files, mirror, _ = fake_paper
    f = files[1]
    (mirror / data.PAPER_REPOSITORY / f.commit / f.source).write_bytes(b"tampered\n")
    with pytest.raises(EdpbrlError, match="does not match its pinned SHA-256"):
        data.fetch_paper_data(url_base=mirror.as_uri())
    assert not (tmp_path / "data" / "paper" / f.path).exists()
    assert not list((tmp_path / "data" / "paper" / "styles").glob("*.tmp"))


def test_offline_copy_and_errors(fake_paper, tmp_path, capsys):
    _, _, offline = fake_paper
    assert main(["data", "paper", "--from", str(offline)]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["data", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "data" / "paper")
    with pytest.raises(EdpbrlError, match="source directory not found"):
        data.fetch_paper_data(source=tmp_path / "nowhere")
    with pytest.raises(EdpbrlError, match="unknown paper style 'rainy'"):
        data.resolve_style("paper:rainy")
    with pytest.raises(EdpbrlError, match="cannot download .* \\(offline\\? use --from DIR\\)"):
        data.fetch_paper_data(url_base=(tmp_path / "no-mirror").as_uri(), dest=tmp_path / "elsewhere")
