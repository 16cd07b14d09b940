"""Vocabulary loading, validation and the seeded design/test split."""

import pytest

from edpbrl.errors import VocabularyError
from edpbrl.vocab import Vocabulary


def test_from_dir_orders_slots_by_file_name(tiny_vocab_dir):
    v = Vocabulary.from_dir(tiny_vocab_dir)
    assert v.names == ["subject", "style", "light"]
    assert v.sizes == [8, 8, 8]
    assert v.prompt([0, 2, 1]) == "a lighthouse, pixel art, neon glow"


def test_yaml_and_skip(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("subject: [a cat, a dog]\nstyle: ['<skip>', watercolor]\n")
    v = Vocabulary.load(f)
    assert v.slots[1].entries == ("", "watercolor")
    assert v.prompt([1, 0]) == "a dog"


def test_default_vocabulary_is_large_and_clean():
    v = Vocabulary.default()
    assert v.horizon == 6 and min(v.sizes) >= 200


def test_split_is_seeded_75_25_and_disjoint():
    v = Vocabulary({"a": [f"w{i}" for i in range(100)], "b": ["only"]})
    d1, t1 = v.split()
    d2, t2 = v.split()
    assert d1.to_dict() == d2.to_dict() and t1.to_dict() == t2.to_dict()
    assert (len(d1[0]), len(t1[0])) == (75, 25)
    assert not set(d1[0].entries) & set(t1[0].entries)
    assert d1[1].entries == t1[1].entries == ("only",)
    assert v.split(seed=1)[1].to_dict() != t1.to_dict()


@pytest.mark.parametrize(
    "content, match",
    [({}, "no slots"), ({"a": []}, "slot 'a' is empty"), ({"a": ["x", "y", "x"]}, "duplicate entries")],
)
def test_bad_vocabularies(content, match):
    with pytest.raises(VocabularyError, match=match):
        Vocabulary(content)


def test_broken_files(tmp_path):
    with pytest.raises(VocabularyError, match="not found"):
        Vocabulary.from_dir(tmp_path / "missing")
    with pytest.raises(VocabularyError, match="no .txt slot files"):
        Vocabulary.from_dir(tmp_path)
    (tmp_path / "1_a.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(VocabularyError, match="cannot read slot file"):
        Vocabulary.from_dir(tmp_path)
    bad = tmp_path / "v.yaml"
    bad.write_text("a: [x, y\n")
    with pytest.raises(VocabularyError, match="cannot parse vocabulary YAML"):
        Vocabulary.load(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(VocabularyError, match="must map slot names"):
        Vocabulary.load(bad)


def test_dedupe_option():
    v = Vocabulary({"a": ["x", "y", "x"]}, dedupe=True)
    assert v[0].entries == ("x", "y")


def test_pooled_vocabulary_and_repeats_become_blank():
    v = Vocabulary({"base": ["a man"], "a": ["x", "y"], "b": ["y", "z"], "c": ["w"]}, dedupe=True)
    p = v.pooled(first=1)
    assert p.names == ["base", "a", "b", "c"] and p.repeats == "blank"
    assert p[0].entries == ("a man",)
    assert p[1].entries == p[2].entries == p[3].entries == ("x", "y", "z", "w", "")
    assert p.prompt([0, 1, 1, 4]) == "a man, y"  # the repeated y and the blank disappear
    assert v.prompt([0, 1, 0, 0]) == "a man, y, y, w"  # the default keeps repeats
    design, test = p.split(0.25, seed=1)
    assert design.repeats == test.repeats == "blank"
    with pytest.raises(VocabularyError, match="repeats must be one of keep, blank"):
        Vocabulary({"a": ["x"]}, repeats="drop")
    with pytest.raises(VocabularyError, match="first must be in 0..3"):
        v.pooled(first=4)


def test_comment_lines_are_skipped_and_hash_inside_a_token_is_kept(tmp_path):
    (tmp_path / "1_subject.txt").write_text(
        "# subjects for the demo\n  # an indented comment\na lighthouse\nC# code on a screen\n"
        "\\#hashtag poster\n\n"
    )
    (tmp_path / "2_light.txt").write_text("golden hour # not a comment: '#' inside a token\n")
    v = Vocabulary.from_dir(tmp_path)
    assert v[0].entries == ("a lighthouse", "C# code on a screen", "#hashtag poster")
    assert v[1].entries == ("golden hour # not a comment: '#' inside a token",)


def test_a_slot_file_of_only_comments_is_an_empty_slot(tmp_path):
    (tmp_path / "1_a.txt").write_text("# nothing yet\n")
    with pytest.raises(VocabularyError, match="^slot 'a' is empty$"):
        Vocabulary.from_dir(tmp_path)


def test_style_files_skip_comments_too(tmp_path):
    from edpbrl.users import read_style

    f = tmp_path / "mine.txt"
    f.write_text("# my taste\nAn image of a quiet harbour at dawn.\n")
    assert read_style(f) == ["An image of a quiet harbour at dawn."]
