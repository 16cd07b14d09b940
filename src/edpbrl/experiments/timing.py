"""How long each method spends choosing questions (``edpbrl experiment timing``)."""

from __future__ import annotations

import time
from collections.abc import Sequence


def time_methods(
    methods: Sequence[str],
    episodes: int,
    *,
    vocab: str | None = None,
    embedder: str = "minilm",
    k: int = 4,
    lam: float = 1.0,
    seed: int = 0,
    style: str = "sunny",
    rationality: float = 10.0,
) -> list[dict]:
    """Seconds each method spends in ``strategy.plan`` over a simulated session of ``episodes``.

    Reports the total, the time per episode (= per query set) and per question; the encoder's
    time (embedding the vocabulary and the answered options) is excluded, and the design cache
    is cleared first, so static designs are solved inside the timed call.
    """
    from ..embed import load_embedder
    from ..personalizer import Personalizer
    from ..users import LinearUser, read_style, style_theta
    from ..vocab import Vocabulary

    emb = load_embedder(embedder)
    voc = Vocabulary.default() if vocab is None else Vocabulary.load(vocab, dedupe=True)
    design_vocab, _ = voc.split(0.25, seed=42)
    theta = style_theta(read_style(style), emb)
    out = []
    for m in methods:
        from ..strategies import clear_design_cache, make_strategy

        clear_design_cache()  # every method pays for its own design
        strat = make_strategy(m)
        spent = [0.0, 0]
        plan = strat.plan

        def timed(ctx, n, _plan=plan, _spent=spent):
            t0 = time.perf_counter()
            r = _plan(ctx, n)
            _spent[0] += time.perf_counter() - t0
            _spent[1] += 1
            return r

        strat.plan = timed
        p = Personalizer(
            design_vocab, emb, k=k, episodes=episodes, method=m, seed=seed, lam=lam, strategy=strat
        )
        user = LinearUser(theta, rationality, seed=seed)
        while (q := p.ask()) is not None:
            p.tell(q, user.choose(emb.encode(q.options)))
        out.append(
            {
                "method": m,
                "episodes": episodes,
                "questions": p.n_answered,
                "plan_calls": spent[1],
                "seconds_total": spent[0],
                "seconds_per_episode": spent[0] / episodes,
                "seconds_per_question": spent[0] / max(p.n_answered, 1),
            }
        )
    return out
