"""Property tests (Hypothesis) of the library's public functions on malformed input: each either
works and returns something well-formed, or raises one of the project's errors
(:class:`edpbrl.errors.EdpbrlError`) with a one-line message — never an IndexError, a TypeError,
a bare ValueError, a NaN or a hang."""

from __future__ import annotations

import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from edpbrl.errors import EdpbrlError  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# anything JSON or Python code might hand over
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
texts = st.text(st.characters(codec="utf-8"), max_size=40)


def clean_error(exc: BaseException) -> None:
    """``exc`` must be one of ours, with a one-line message."""
    assert isinstance(exc, EdpbrlError), f"{type(exc).__name__}: {exc}"
    assert str(exc).strip() and "\n" not in str(exc).strip(), repr(str(exc))


def run(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001 - the property is about which exceptions
        clean_error(exc)
        return None


@SETTINGS
@given(st.dictionaries(texts, st.lists(junk, max_size=5), max_size=4) | junk)
def test_vocabulary_from_anything(slots):
    from edpbrl.vocab import Vocabulary

    v = run(Vocabulary, slots)
    if v is not None:
        assert v.horizon >= 1 and all(len(s) >= 1 for s in v.slots)
        assert all(isinstance(e, str) for s in v.slots for e in s.entries)
        assert v.prompt([0] * v.horizon) == ", ".join(e for e in (s.entries[0] for s in v.slots) if e)


@SETTINGS
@given(texts | junk)
def test_load_embedder_from_any_spec(spec):
    from edpbrl.embed import load_embedder

    if isinstance(spec, str) and spec.split(":", 1)[0].strip().lower() in ("minilm", "clip", "sum"):
        spec = "hashing:" + spec  # (never load a model here)
    emb = run(load_embedder, spec, cache=False)
    if emb is not None:
        x = emb.encode(["a castle", ""])
        assert x.shape == (2, emb.dim) and np.isfinite(x).all()


@SETTINGS
@given(st.lists(texts | junk, max_size=6) | junk)
def test_hashing_encode_any_texts(items):
    from edpbrl.embed import HashingEmbedder

    x = run(HashingEmbedder(16).encode, items)
    if x is not None:
        assert x.dtype == np.float32 and x.shape == (len(items), 16) and np.isfinite(x).all()
        norms = np.linalg.norm(x, axis=1)
        assert np.allclose(norms[norms > 0], 1, atol=1e-5)


arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=0, max_dims=4, max_side=5),
    elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
)


@SETTINGS
@given(arrays, arrays | st.lists(junk, max_size=4) | junk, st.floats(allow_nan=True) | junk)
def test_fit_mle_on_malformed_queries(X, y, lam):
    from edpbrl.choice import fit_mle

    res = run(fit_mle, X, y, lam)
    if res is not None:
        assert np.isfinite(res.theta.numpy()).all() and np.isfinite(res.loss)


@SETTINGS
@given(
    st.integers(-3, 12) | junk,
    st.integers(-2, 4) | junk,
    st.floats(-1, 10) | junk,
    st.sampled_from(["A", "D", "Z", 3]),
)
def test_personalizer_settings(tiny_vocab_dir, k, episodes, lam, criterion):
    from edpbrl import Personalizer

    p = run(
        Personalizer.default,
        k=k,
        episodes=episodes,
        lam=lam,
        criterion=criterion,
        vocabulary=tiny_vocab_dir,
        embedder="hashing:8",
    )
    if p is not None:
        q = p.ask()
        assert q is None or len(q.options) == p.k


@SETTINGS
@given(st.lists(st.integers(-5, 12) | st.none() | junk, min_size=1, max_size=8))
def test_tell_skip_undo_any_choices(tiny_vocab_dir, choices):
    from edpbrl import Personalizer

    p = Personalizer.default(k=3, episodes=2, vocabulary=tiny_vocab_dir, embedder="hashing:8")
    for c in choices:
        q = p.ask()
        if q is None:
            break
        if c == "undo":
            p.undo()
        elif c == "skip":
            p.skip(q)
        else:
            run(p.tell, q, c)
    theta = p.fit()
    assert np.isfinite(theta).all()
    assert math.isfinite(p.summary(top=2)["uncertainty"])
    assert len(p.best_prompts(n=2)) >= 1


@SETTINGS
@given(
    hnp.arrays(np.float64, st.integers(0, 12), elements=st.floats(allow_nan=True, allow_infinity=True)) | junk
)
def test_beam_search_any_theta(tiny_vocab, theta):
    from edpbrl.embed import HashingEmbedder
    from edpbrl.prompts import beam_search

    out = run(beam_search, theta, tiny_vocab, HashingEmbedder(8), n=3, beam=4, candidates=5)
    if out is not None:
        assert 1 <= len(out) <= 3 and all(isinstance(t, str) and math.isfinite(s) for t, s in out)


@SETTINGS
@given(texts | junk)
def test_open_store_any_url(tmp_path_factory, url):
    from edpbrl.store import open_store

    if isinstance(url, str) and "://" not in url:
        url = str(tmp_path_factory.mktemp("s") / url.replace("/", "_").replace("\x00", "")[:30] or "x")
    run(open_store, url, create=isinstance(url, str) and not url.startswith("sqlite"))


@SETTINGS
@given(texts | junk, texts | junk)
def test_export_any_session_and_format(tmp_path_factory, sid, fmt):
    from edpbrl.export import build_export
    from edpbrl.store import open_store

    store = open_store(tmp_path_factory.mktemp("e") / "x.db")
    assert run(build_export, store, sid, fmt) is None  # never a session: always a clean error


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "options": st.lists(texts, max_size=3),
                "idx": st.integers(-1, 5) | junk,
                "action": st.sampled_from(["choose", "skip", "no_preference", "x"]),
                "choice": st.integers(-1, 4) | junk,
            }
        ),
        max_size=4,
    )
)
def test_replay_of_tampered_answers(tiny_vocab_dir, answers):
    from edpbrl import Personalizer
    from edpbrl.replay import replay

    p = Personalizer.default(k=3, episodes=2, vocabulary=tiny_vocab_dir, embedder="hashing:8")
    run(replay, p, answers)


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["style", "k", "episodes", "question_id", "action", "position", "x"]), junk
    )
)
def test_request_bodies_fail_cleanly(body):
    pydantic = pytest.importorskip("pydantic")
    from edpbrl.app.schemas import AnswerBody, ExtendBody, NewSession, UndoBody

    adapter = pydantic.TypeAdapter(AnswerBody)
    for validate in (
        NewSession.model_validate,
        ExtendBody.model_validate,
        UndoBody.model_validate,
        adapter.validate_python,
    ):
        try:
            validate(body)
        except pydantic.ValidationError:
            pass
