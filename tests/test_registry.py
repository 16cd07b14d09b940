"""The registries: a toy strategy, a toy encoder and a toy export format, each registered through
the public registry and then used end to end — by the library, the command line and the export
entry points — with nothing else edited."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edpbrl import Personalizer
from edpbrl.cli import build_parser, main
from edpbrl.embed import EMBEDDERS, EmbedderKind, check_embedder, embedder_spec, load_embedder, spec_usage
from edpbrl.errors import EdpbrlError
from edpbrl.export import FORMATS, Export, Format, build_export, export_session, register_format
from edpbrl.registry import Registry
from edpbrl.store import open_store
from edpbrl.strategies import STRATEGIES, Strategy


def test_registry_basics():
    r: Registry[int] = Registry("widget")
    r.register("a", 1, help="the first")

    @r.register("b")
    def b():
        """Second widget."""

    assert r.names() == ["a", "b"] and "a" in r and len(r) == 2
    assert r.get("a") == 1 and r.help("b") == "Second widget."
    assert r.describe() == "a: the first; b: Second widget."
    with pytest.raises(EdpbrlError, match="unknown widget 'c': expected one of a, b"):
        r.get("c")
    with pytest.raises(EdpbrlError, match="already registered"):
        r.register("a", 2)
    r.register("a", 3, replace=True)
    assert r.get("a") == 3
    for bad in ("", " a", "x:y", None):
        with pytest.raises(EdpbrlError, match="name must be"):
            r.register(bad, 0)
    r.unregister("a")
    assert r.names() == ["b"]


# -- a toy strategy: the K tokens with the largest posterior variance of θᵀφ, per slot ---------
class MostUncertain(Strategy):
    adaptive = True

    def __init__(self, **_):
        self.seen_models = []

    def plan(self, ctx, n):
        self.seen_models.append(ctx.model)
        F = ctx.mdp.features.numpy()
        if ctx.model is None:
            var = np.ones(F.shape[0])
        else:
            cov = np.linalg.inv(ctx.model.hessian.numpy())
            var = np.einsum("id,de,ie->i", F, cov, F)
        off = ctx.mdp.offsets.tolist()
        ep = np.stack(
            [np.argsort(-var[off[h] : off[h + 1]], kind="stable")[: ctx.k] for h in range(len(off) - 1)], 1
        )
        return np.stack([ep[ctx.rng.permutation(ctx.k)] for _ in range(n)])


@pytest.fixture
def toy_strategy():
    made = []
    STRATEGIES.register("toy-uncertain", lambda **kw: made.append(MostUncertain(**kw)) or made[-1])
    yield made
    STRATEGIES.unregister("toy-uncertain")


def test_toy_strategy_end_to_end(toy_strategy, tiny_vocab_dir, capsys):
    p = Personalizer.default(
        k=3, episodes=3, method="toy-uncertain", vocabulary=str(tiny_vocab_dir), embedder="hashing"
    )
    assert p.strategy.name == "toy-uncertain" and p.strategy.adaptive
    user_theta = np.random.default_rng(0).normal(size=p.dim)
    while (q := p.ask()) is not None:
        p.tell(q, int(np.argmax(p.embedder.encode(q.options) @ user_theta)))
    models = toy_strategy[0].seen_models
    assert models[0] is None and all(m is not None for m in models[1:])  # fitted by the caller
    assert models[-1].theta.shape == (p.dim,) and p.n_answered >= 3
    # the command line accepts it (--method choices come from the registry) and runs it
    sim = build_parser()._subparsers._group_actions[0].choices["simulate"]
    assert "toy-uncertain" in next(a for a in sim._actions if a.dest == "method").choices
    rc = main(
        ["simulate", "--style", "sunny", "--method", "toy-uncertain", "--method", "random", "--episodes", "2",
         "--seeds", "1", "--k", "3", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16",
         "--no-progress", "--json"]
    )  # fmt: skip
    assert rc == 0
    methods = {r["method"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert methods == {"toy-uncertain", "random"}


def test_a_strategy_returning_garbage_is_a_clear_error(tiny_vocab_dir):
    class Broken(Strategy):
        def plan(self, ctx, n):
            return np.full((n, ctx.k, 3), 99)

    STRATEGIES.register("toy-broken", lambda **_: Broken())
    try:
        with pytest.raises(EdpbrlError, match="method 'toy-broken' returned a token index outside its slot"):
            Personalizer.default(
                k=3, episodes=2, method="toy-broken", vocabulary=str(tiny_vocab_dir), embedder="hashing"
            )
    finally:
        STRATEGIES.unregister("toy-broken")


# -- a toy encoder: letter counts, spec "letters" or "letters:DIM" ------------------------------
class LetterCounts:
    def __init__(self, dim=26):
        self.dim, self.name = dim, f"letters-{dim}"

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if ch.isalpha():
                    out[i, (ord(ch) - 97) % self.dim] += 1
        n = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, n, out=out, where=n > 0)


@pytest.fixture
def toy_embedder():
    EMBEDDERS.register(
        "letters",
        EmbedderKind(
            "letters[:DIM]",
            build=lambda arg, opts: LetterCounts(int(arg) if arg else 26),
            spec_of=lambda e: f"letters:{e.dim}" if isinstance(e, LetterCounts) else None,
            cached=False,
        ),
        help="letter counts (a toy)",
    )
    yield
    EMBEDDERS.unregister("letters")


def test_toy_embedder_end_to_end(toy_embedder, tiny_vocab_dir, capsys):
    emb = load_embedder("letters:20")
    check_embedder(emb)
    assert embedder_spec(emb) == "letters:20" and "letters[:DIM]" in spec_usage()
    p = Personalizer.default(k=3, episodes=2, vocabulary=str(tiny_vocab_dir), embedder="letters:20")
    assert p.dim == 20 and p.config["embedder"] == "letters:20"
    while (q := p.ask()) is not None:
        p.tell(q, 0)
    again = Personalizer.from_config(p.config)  # saved configs name it by its spec
    assert [q.options for q in again._questions] == [q.options for q in p._questions]
    assert main(["design", "--vocab", str(tiny_vocab_dir), "--embedder", "letters:20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["certificate"]["relative_gap"] <= 1e-4


def test_check_embedder_catches_contract_breaches():
    class NotNormalised(LetterCounts):
        def encode(self, texts):
            return super().encode(texts) * 2

    with pytest.raises(EdpbrlError, match="unit-norm contract"):
        check_embedder(NotNormalised())
    NotNormalised.unit_norm = False  # an encoder may opt out, saying so
    check_embedder(NotNormalised())


# -- a toy export format: the chosen option of every live answer, one per line ---------------------
class ChosenText(Format):
    def build(self, store, sid, *, personalizer=None):
        lines = [a["options"][a["choice"]] for a in store.live_answers(sid) if a["action"] == "choose"]
        return Export("chosen.txt", "text/plain", ("\n".join(lines) + "\n").encode())


@pytest.fixture
def toy_format():
    register_format("chosen-text", ChosenText(), help="chosen options as plain text (a toy)")
    yield
    FORMATS.unregister("chosen-text")


def test_toy_export_format_end_to_end(toy_format, tmp_path):
    store = open_store(tmp_path / "t.db")
    sid = store.create_session(style="", k=2, episodes=1)
    q = store.open_question(
        sid, idx=0, episode=0, step=0, slot="s", options=["a", "b"], display_order=[1, 0], seeds=[1, 2]
    )
    store.record_answer(sid, q["id"], action="choose", choice=1, position=0)
    assert build_export(store, sid, "chosen-text").data == b"b\n"
    out = tmp_path / "out" / "chosen.txt"
    assert export_session(tmp_path / "t.db", sid, "chosen-text", out) == [out]
    assert out.read_text() == "b\n"
    out2 = tmp_path / "cli.txt"
    assert (
        main(["export", sid, "--format", "chosen-text", "--db", str(tmp_path / "t.db"), "--out", str(out2)])
        == 0
    )
    assert out2.read_text() == "b\n"
