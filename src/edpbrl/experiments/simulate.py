"""Simulated personalisation: a linear ground-truth user answers each method's questions.

For every (style, method, seed) one session runs to the largest budget; θ̂ is fitted after the
first B episodes for each budget B ("anytime" evaluation), and scored by the cosine error and the
preference error on 1,000 prompts built from held-out test words (the paper's protocol). Runs go to
parallel processes or to Ray (:mod:`.parallel`); each run is deterministic given its seed, so the
results do not depend on where it ran.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import resolve_vocabulary
from ..embed import TokenSumEmbedder, load_embedder
from ..errors import EdpbrlError
from ..personalizer import Personalizer
from ..prior import Prior, member_name, packaged_prior, resolve_prior
from ..users import (
    LinearUser,
    cosine_error,
    make_test_prompts,
    preference_error,
    read_style,
    style_theta,
)
from ..vocab import Vocabulary
from .parallel import run_jobs
from .report import aggregate


@dataclass(frozen=True)
class SimConfig:
    k: int = 4
    rationality: float = 10.0
    lam: float = 1.0
    criterion: str = "A"
    vocab: str | None = None  # directory / YAML; None = packaged default
    embedder: str = "minilm"
    feedback: str = "dense"
    n_test: int = 1000
    n_pairs: int = 5000
    # What the user's utility and the learner's features are (θ* is the style's sentence
    # embedding in every world):
    # "embedding"    — both use the encoder's embedding of an option's whole text (the paper's
    #                  setting; the design's per-token surrogate is then misspecified);
    # "additive"     — both use the sum of the option's token embeddings (TokenSumEmbedder): the
    #                  well-specified control world for the design;
    # "misspecified" — the user judges whole-text embeddings, the learner only sees token sums:
    #                  the utility comes from a different signal than the learner's features.
    world: str = "embedding"
    n_choice_tests: int = 300  # held-out K-way questions for the choice accuracy
    # "per-slot": every slot its own words (75/25 design/test split per slot, ours);
    # "pooled": the paper's — slot 1 as is, slots 2.. all offer the pooled design words + blank
    vocab_mode: str = "per-slot"
    # The learner's prior (edpbrl.prior): "none" (the flat λI), "packaged" or a prior file. A
    # member of the prior's population with the evaluated style's name is always left out.
    prior: str = "none"
    # The person's own words: "none", "auto" (the style's name, "_" as spaces), "misleading" (the
    # name of the population member least like the person) or any other text.
    words: str = "none"
    # The simulated person: "style" (θ* of the style) or "orthogonal" (θ* with its component
    # along the population's mean removed, rescaled to its norm: a person unlike anyone before).
    user: str = "style"
    prior_scale: float | None = None  # β₀ assumed by the prior (None: the prior's own)
    # The encoder the user judges with in the "other-model" world (the learner keeps `embedder`).
    user_embedder: str = "minilm-static"
    # Reported with the method as "method[label]" (e.g. the prior setting), so runs of one method
    # under different settings can be merged into one table.
    label: str = ""


WORLDS = ("embedding", "additive", "misspecified", "other-model")
USERS = ("style", "orthogonal")
VOCAB_MODES = ("per-slot", "pooled")


def design_and_test(
    vocab: Vocabulary, mode: str = "per-slot", seed: int = 42
) -> tuple[Vocabulary, Vocabulary]:
    """The design vocabulary (what questions are built from) and the held-out test vocabulary
    (what the test prompts are built from): a seeded 75/25 split of every slot; in ``pooled``
    mode the design slots after the first are pooled (:meth:`Vocabulary.pooled`), while the test
    prompts stay slot-specific."""
    if mode not in VOCAB_MODES:
        raise EdpbrlError(f"unknown vocabulary mode '{mode}': expected one of {', '.join(VOCAB_MODES)}")
    design, test = vocab.split(0.25, seed=seed)
    return (design.pooled(first=1) if mode == "pooled" else design), test


def style_name(style) -> str:
    """The name a style is reported under: the file stem, or NAME of ``paper:NAME``."""
    text = str(style)
    return text.split(":", 1)[1] if text.startswith("paper:") else Path(text).stem


_CACHE: dict = {}


@dataclass
class World:
    """Everything a run shares: encoders, design vocabulary, held-out test prompts and questions."""

    learner: object  # encoder whose features the learner sees
    user: object  # encoder whose features the user's utility uses
    base: object  # sentence encoder for θ*
    design_vocab: Vocabulary
    X_test_learner: np.ndarray  # (n_test, d) test prompts, learner features
    X_test_user: np.ndarray  # (n_test, d) the same prompts, user features
    choice_sets: np.ndarray  # (n_choice_tests, K) indices into the test prompts


def check_counts(**counts) -> None:
    """One-line EdpbrlError unless every ``name=value`` is a positive integer."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise EdpbrlError(f"{name} must be a positive integer, got {value!r}")


def setup_world(cfg: SimConfig) -> World:
    key = (cfg.vocab, cfg.embedder, cfg.world, cfg.k, cfg.n_test, cfg.n_choice_tests, cfg.vocab_mode)
    key += (cfg.user_embedder if cfg.world == "other-model" else None,)
    if key not in _CACHE:
        if cfg.world not in WORLDS:
            raise EdpbrlError(f"unknown world '{cfg.world}': expected one of {', '.join(WORLDS)}")
        base = load_embedder(cfg.embedder)
        summed = TokenSumEmbedder(base)
        learner = base if cfg.world in ("embedding", "other-model") else summed
        user = summed if cfg.world == "additive" else base
        if cfg.world == "other-model":  # the person judges with another text model
            user = base = load_embedder(cfg.user_embedder)
        spec = resolve_vocabulary(cfg.vocab)
        vocab = Vocabulary.default() if spec is None else Vocabulary.load(spec, dedupe=True)
        design, test = design_and_test(vocab, cfg.vocab_mode)
        prompts = make_test_prompts(test, cfg.n_test, seed=1)
        Xl = np.asarray(learner.encode(prompts), dtype=np.float64)
        Xu = Xl if user is learner else np.asarray(user.encode(prompts), dtype=np.float64)
        rng = np.random.default_rng(2)
        sets = np.stack([rng.choice(len(prompts), cfg.k, replace=False) for _ in range(cfg.n_choice_tests)])
        _CACHE[key] = World(learner, user, base, design, Xl, Xu, sets)
    return _CACHE[key]


def choice_accuracy(theta_hat, user: LinearUser, world: World) -> float:
    """Expected held-out K-way accuracy: the mean probability that the user picks the option the
    learner ranks first, over fixed random questions of held-out test prompts (chance = 1/K)."""
    acc = 0.0
    for idx in world.choice_sets:
        guess = int(np.argmax(world.X_test_learner[idx] @ theta_hat))
        acc += user.probabilities(world.X_test_user[idx])[guess]
    return float(acc / len(world.choice_sets))


def evaluate(theta_hat, theta_star, user: LinearUser, world: World, cfg: SimConfig, seed: int) -> dict:
    """The metrics of an estimate θ̂ against the user's true taste θ*: cosine error, preference
    error on ``cfg.n_pairs`` pairs of held-out test prompts (pairs drawn with ``seed``) and the
    held-out choice accuracy."""
    return {
        "cosine_error": cosine_error(theta_hat, theta_star),
        "preference_error": preference_error(
            theta_hat, theta_star, world.X_test_learner, cfg.n_pairs, seed=seed, X_star=world.X_test_user
        ),
        "choice_accuracy": choice_accuracy(theta_hat, user, world),
    }


def start_session(
    style: str, method: str, episodes: int, seed: int, cfg: SimConfig, progress=None
) -> tuple[World, np.ndarray, LinearUser, Personalizer]:
    """The world, θ*, the simulated user (seeded ``10_000 + seed``) and a fresh personalizer
    (seeded ``seed``, on the design vocabulary; ``progress`` reports its design) of one simulated
    session."""
    w = setup_world(cfg)
    theta_star = person_theta(style, cfg, w)
    user = LinearUser(theta_star, cfg.rationality, seed=10_000 + seed)
    prior = learner_prior(style, cfg, w)
    p = Personalizer(
        w.design_vocab,
        w.learner,
        k=cfg.k,
        episodes=episodes,
        method=method,
        seed=seed,
        lam=cfg.lam,
        criterion=cfg.criterion,
        feedback=cfg.feedback,
        progress=progress,
        prior=prior,
        words=person_words(style, cfg, w, theta_star),
    )
    return w, theta_star, user, p


def _packaged_base_prior(w: World) -> Prior:
    """The packaged prior in the user's (base) encoder space: defines 'the population'."""
    return packaged_prior(w.base)


def person_theta(style: str, cfg: SimConfig, w: World) -> np.ndarray:
    """θ* of the simulated person (in the user's encoder space; see ``SimConfig.user``)."""
    if cfg.user not in USERS:
        raise EdpbrlError(f"unknown user '{cfg.user}': expected one of {', '.join(USERS)}")
    theta = style_theta(read_style(style), w.base)
    if cfg.user == "orthogonal":
        m = _packaged_base_prior(w).without(style).mean
        m = m / np.linalg.norm(m)
        orth = theta - (theta @ m) * m
        theta = orth * np.linalg.norm(theta) / max(np.linalg.norm(orth), 1e-12)
    return theta


def learner_prior(style: str, cfg: SimConfig, w: World) -> Prior | None:
    """The learner's prior (``SimConfig.prior``) with the evaluated style's name left out."""
    prior = resolve_prior(cfg.prior, w.learner)
    if prior is None:
        return None
    prior = prior.without(style_name(style))
    return prior if cfg.prior_scale is None else prior.with_scale(cfg.prior_scale)


def person_words(style: str, cfg: SimConfig, w: World, theta_star: np.ndarray) -> str | None:
    """The person's own words (``SimConfig.words``)."""
    if cfg.words in ("none", "", None):
        return None
    if cfg.words == "auto":
        return member_name(style_name(style))
    if cfg.words == "misleading":  # the population member least like this person
        pop = _packaged_base_prior(w).without(style_name(style))
        sims = pop.population @ theta_star / np.linalg.norm(pop.population, axis=1)
        return pop.names[int(np.argmin(sims))]
    return cfg.words


def answer(p: Personalizer, user: LinearUser, world: World, q) -> int:
    """The simulated user's answer to ``q`` (options encoded in batches: see ``prefetch``)."""
    if q.index >= getattr(p, "_prefetched", 0):
        p.prefetch(*([] if world.user is world.learner else [world.user]))
    X_user = world.learner.encode(q.options) if world.user is world.learner else world.user.encode(q.options)
    return user.choose(X_user)


def run_one(style: str, method: str, budgets: Sequence[int], seed: int, cfg: SimConfig) -> list[dict]:
    """One session of ``method`` for a user of ``style``; one result row per budget."""
    setup_world(cfg)  # (cached) not part of the timed session
    t0 = time.perf_counter()
    w, theta_star, user, p = start_session(style, method, max(budgets), seed, cfg)
    rows, budgets = [], sorted(budgets)
    bi = 0
    while True:
        q = p.ask()
        while bi < len(budgets) and (q is None or q.episode >= budgets[bi]):
            rows.append(
                {
                    "style": style_name(style),
                    "method": f"{method}[{cfg.label}]" if cfg.label else method,
                    "episodes": budgets[bi],
                    "seed": seed,
                    **evaluate(p.fit(), theta_star, user, w, cfg, seed),
                    "questions": p.n_answered,
                    "prior": cfg.prior,
                    "left_out": list(p.prior.left_out) if p.prior is not None else [],
                    "words": p.words,
                    "seconds": time.perf_counter() - t0,
                }
            )
            bi += 1
        if q is None:
            break
        p.tell(q, answer(p, user, w, q))
    return rows


def _run_job(args):
    return run_one(*args)


def simulate(
    styles: Sequence[str],
    methods: Sequence[str],
    budgets: Sequence[int],
    seeds: int,
    cfg: SimConfig = SimConfig(),
    workers: int = 1,
    progress: bool = True,
    seed_offset: int = 0,
    backend: str = "process",
    address: str | None = None,
) -> dict:
    """Run every (style, method, seed) for seeds ``seed_offset .. seed_offset + seeds − 1`` (so
    a long experiment can run in chunks and be merged); returns {"results": aggregated rows,
    "runs": raw rows}.

    ``backend``: ``"process"`` (``workers`` processes) or ``"ray"`` (a local Ray with ``workers``
    CPUs, or the cluster at ``address``); the same rows either way (apart from ``seconds``).
    The arguments are checked before anything runs: at least one style (each readable), method
    and budget, budgets and ``seeds`` and ``workers`` positive integers."""
    from tqdm import tqdm

    from ..strategies.registry import check_method

    check_counts(seeds=seeds, workers=workers)
    if not styles or not methods or not budgets:
        raise EdpbrlError("simulate needs at least one style, one method and one budget")
    for b in budgets:
        check_counts(episodes=b)
    for m in methods:
        check_method(m)  # one-line error for an unknown method or option
    for style in styles:
        read_style(style)

    seed_range = range(seed_offset, seed_offset + seeds)
    jobs = [(s, m, list(budgets), seed, cfg) for s in styles for m in methods for seed in seed_range]
    bar = tqdm(total=len(jobs), desc="simulate", disable=not progress, unit="run")
    try:  # closed also on an error, so that the error is not printed onto the bar
        results = run_jobs(
            _run_job, jobs, backend=backend, workers=workers, address=address, on_done=bar.update
        )
    finally:
        bar.close()
    rows = [row for r in results for row in r]
    return {"results": aggregate(rows), "runs": rows}
