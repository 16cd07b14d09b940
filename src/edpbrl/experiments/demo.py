"""The demo (``edpbrl demo``, ``make demo``): one simulated person, told in plain words.

:func:`run_demo` runs a simulated person of a style through a method's questions and returns a
:class:`DemoResult` that says who the person is (the style's sentences, how consistently they
pick), what was asked and why (the method, the design's certificate, example questions with the
person's answers), how close the estimate came (:class:`Comparison` rows on the same held-out
prompt pairs: asking nothing, random questions at the same count, the method), what it learned
per slot and the personalised prompts. The command line only prints it (or its
:meth:`DemoResult.to_dict` as JSON).

The sessions are exactly those of ``edpbrl simulate`` (same world, seeds and metrics): the demo's
rows equal ``simulate --style S --method M --episodes T --seeds 1`` for seed 0.

A further comparison (say, a prior from a population or from the person's own words) is one more
:class:`Comparison` in :attr:`DemoResult.comparisons`: build its θ̂ and call :func:`comparison`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..design.criteria import AIMS
from ..errors import EdpbrlError
from ..personalizer import MAX_EPISODES, Personalizer
from ..strategies.registry import check_method, method_help
from ..users import LinearUser, read_style
from .simulate import SimConfig, World, answer, evaluate, start_session

Progress = Callable[[int, int, str], None]


@dataclass
class Comparison:
    """One row of "how close it got": an estimate θ̂ scored against the person's true taste.

    ``preference_error``: the share of held-out prompt pairs that θ̂ orders differently from the
    person (ties under θ̂ count half: 0 = perfect, 0.5 = a coin flip); ``cosine_error``:
    1 − cos(θ̂, θ*) (0 = the same direction as the true taste, 1 = unrelated);
    ``choice_accuracy``: the chance that the person picks the option θ̂ ranks first in a held-out
    K-way question (1/K = guessing)."""

    name: str
    description: str
    method: str | None
    questions: int
    preference_error: float
    cosine_error: float
    choice_accuracy: float


@dataclass
class Example:
    """A question the simulated person answered: the options, the pick and their favourite."""

    index: int
    episode: int
    slot: str
    options: list[str]
    choice: int
    favourite: int
    choice_probability: float


@dataclass
class SlotLearned:
    """Per slot: the words θ̂ scores highest and lowest, and the person's own favourites (θ*)."""

    slot: str
    likes: list[str]
    dislikes: list[str]
    true_likes: list[str]


@dataclass
class PromptResult:
    """A personalised prompt: θ̂ᵀx and the share of held-out prompts the person likes less."""

    prompt: str
    score: float
    person_percentile: float


@dataclass
class DemoResult:
    style: str
    sentences: list[str]
    rationality: float
    picked_favourite: float  # mean probability, over the questions asked, of picking the favourite
    k: int
    episodes: int
    method: str
    method_help: str
    criterion: str
    criterion_aim: str
    feedback: str
    questions: int
    questions_per_slot: dict[str, int]
    slots: list[str]
    certificate: dict | None
    examples: list[Example]
    comparisons: list[Comparison]
    test_prompts: int
    test_pairs: int
    learned: list[SlotLearned]
    uncertainty: float  # mean posterior s.d. of a word's score θᵀφ
    score_spread: float  # s.d. of the learned scores θ̂ᵀφ over all words
    prompts: list[PromptResult]
    min_diff_slots: int
    embedder: str
    seed: int
    seconds: float
    prior: str = "none"  # the learner's prior ("none": flat)
    words: str | None = None  # the person's own words given to the learner

    def to_dict(self) -> dict:
        return asdict(self)

    def row(self, name: str) -> Comparison:
        return next(c for c in self.comparisons if c.name == name)


def comparison(
    name: str,
    description: str,
    theta_hat,
    theta_star,
    user: LinearUser,
    world: World,
    cfg: SimConfig,
    seed: int,
    *,
    method: str | None = None,
    questions: int = 0,
) -> Comparison:
    """Score an estimate on the demo's held-out prompt pairs (the same pairs for every row)."""
    m = evaluate(theta_hat, theta_star, user, world, cfg, seed)
    return Comparison(
        name, description, method, questions, m["preference_error"], m["cosine_error"], m["choice_accuracy"]
    )


def _run(p: Personalizer, user: LinearUser, world: World, label: str, progress: Progress | None) -> None:
    total = p.n_questions
    while (q := p.ask()) is not None:
        p.tell(q, answer(p, user, world, q))
        if progress is not None:
            progress(p.n_records, total, f"{label}: question {p.n_records}/{total}")


def _examples(p: Personalizer, user: LinearUser, world: World, n: int) -> list[Example]:
    """Up to n questions over whole prompts (the last slot), one per episode from the first."""
    last = p.vocabulary.horizon - 1
    recs = [r for r in p.records if r.kind == "answer" and r.query.step == last]
    recs = recs or [r for r in p.records if r.kind == "answer"]
    out = []
    for r in recs[:n]:
        X = world.user.encode(r.query.options)
        probs = user.probabilities(X)
        out.append(
            Example(
                r.query.index,
                r.query.episode,
                r.query.slot,
                list(r.query.options),
                int(r.choice),
                int(np.argmax(X @ user.theta)),
                float(probs[r.choice]),
            )
        )
    return out


def run_demo(
    style: str = "sunny",
    *,
    method: str = "ed-pbrl",
    episodes: int = 30,
    k: int = 4,
    lam: float = 1.0,
    rationality: float = 10.0,
    embedder: str = "minilm",
    vocab: str | Path | None = None,
    seed: int = 0,
    baselines: Sequence[str] = ("random",),
    n_examples: int = 3,
    n_prompts: int = 4,
    min_diff_slots: int = 2,
    prior: str = "none",
    words: str = "auto",
    progress: Progress | None = None,
) -> DemoResult:
    """Run the demo (see the module docstring). Arguments are checked before anything runs:
    ``episodes`` in 1..:data:`~edpbrl.personalizer.MAX_EPISODES`, known methods, a readable
    style. ``baselines``: methods run with the same person, seed and number of episodes.

    ``prior`` ("none", "packaged" or a prior file; the style's namesake is left out) and ``words``
    ("auto": the style's name; "misleading"; a text; "none"): the learner starts from the prior's
    guess moved by the words. Then the rows also show that guess with no question asked, the
    baselines run with the same prior and words, and random questions with the flat prior."""
    t0 = time.perf_counter()
    if isinstance(episodes, bool) or not isinstance(episodes, int) or not 1 <= episodes <= MAX_EPISODES:
        raise EdpbrlError(f"episodes must be in 1..{MAX_EPISODES}, got {episodes!r}")
    for m in (method, *baselines):
        check_method(m)  # one-line error for an unknown method or option
    sentences = read_style(style)
    with_prior = prior not in (None, "none")
    cfg = SimConfig(
        k=k,
        rationality=rationality,
        lam=lam,
        embedder=embedder,
        vocab=vocab,
        prior=prior if with_prior else "none",
        words=words if with_prior else "none",
    )
    name = Path(style).stem
    world, theta_star, user, p = start_session(style, method, episodes, seed, cfg, progress)
    guess = p.fit() if with_prior else None  # before any answer: the prior's guess
    _run(p, user, world, method, progress)
    comparisons = [
        comparison(
            "asking nothing",
            "no questions: θ̂ = 0 ranks every prompt alike",
            np.zeros_like(theta_star),
            theta_star,
            user,
            world,
            cfg,
            seed,
        )
    ]
    if with_prior:
        said = f"their words ({p.words!r}) and " if p.words else ""
        comparisons.append(
            comparison(
                "your words, 0 questions" if p.words else "the prior, 0 questions",
                f"no questions: the guess from {said}the {len(p.prior.names)} earlier people of the prior",
                guess,
                theta_star,
                user,
                world,
                cfg,
                seed,
            )
        )
        flat = replace(cfg, prior="none", words="none")
        _, _, f_user, fp = start_session(style, "random", episodes, seed, flat)
        _run(fp, f_user, world, "random, flat prior", progress)
        comparisons.append(
            comparison(
                "random, flat prior",
                "random questions without the prior or the words; the same person and count",
                fp.fit(),
                theta_star,
                f_user,
                world,
                flat,
                seed,
                method="random",
                questions=fp.n_answered,
            )
        )
    for b in dict.fromkeys(baselines):
        if b == method:
            continue
        _, _, b_user, bp = start_session(style, b, episodes, seed, cfg)
        _run(bp, b_user, world, b, progress)
        same = "; with the same prior and words" if with_prior else ""
        comparisons.append(
            comparison(
                f"{b} questions",
                f"{method_help(b)}; the same person, seed and number of episodes{same}",
                bp.fit(),
                theta_star,
                b_user,
                world,
                cfg,
                seed,
                method=b,
                questions=bp.n_answered,
            )
        )
    theta = p.fit()
    comparisons.append(
        comparison(
            f"{method} (this demo)",
            method_help(method),
            theta,
            theta_star,
            user,
            world,
            cfg,
            seed,
            method=method,
            questions=p.n_answered,
        )
    )

    if progress is not None:
        progress(0, 1, "writing prompts")
    summary = p.summary(top=3)
    learned = []
    for slot, F in zip(summary["slots"], p.token_features):
        entries = p.vocabulary.slots[len(learned)].entries
        true = np.argsort(-(F @ theta_star), kind="stable")[:3]
        learned.append(
            SlotLearned(
                slot["slot"],
                [t for t, _ in slot["top"]],
                [t for t, _ in slot["bottom"]],
                [entries[i] for i in true],
            )
        )
    all_scores = np.concatenate(p.token_features) @ theta
    texts = p.best_prompts(n=n_prompts, min_diff_slots=min_diff_slots)
    scores = p.score(texts) if texts else np.zeros(0)
    test_utility = world.X_test_user @ theta_star
    person = np.asarray(world.user.encode(texts), dtype=np.float64) @ theta_star if texts else np.zeros(0)
    prompts = [
        PromptResult(t, float(s), float((test_utility < u).mean()))
        for t, s, u in zip(texts, scores, person, strict=True)
    ]

    answered = [r for r in p.records if r.kind == "answer"]
    fav = [float(user.probabilities(world.user.encode(r.query.options)).max()) for r in answered]
    per_slot: dict[str, int] = {}
    for r in answered:
        per_slot[r.query.slot] = per_slot.get(r.query.slot, 0) + 1
    return DemoResult(
        style=name,
        sentences=sentences,
        rationality=float(rationality),
        picked_favourite=float(np.mean(fav)) if fav else float("nan"),
        k=k,
        episodes=episodes,
        method=method,
        method_help=method_help(method),
        criterion=cfg.criterion,
        criterion_aim=AIMS[cfg.criterion],
        feedback=cfg.feedback,
        questions=p.n_answered,
        questions_per_slot=per_slot,
        slots=list(p.vocabulary.names),
        certificate=p.certificate,
        examples=_examples(p, user, world, n_examples),
        comparisons=comparisons,
        test_prompts=len(world.X_test_learner),
        test_pairs=cfg.n_pairs,
        learned=learned,
        uncertainty=float(summary["uncertainty"]),
        score_spread=float(all_scores.std()),
        prompts=prompts,
        min_diff_slots=min_diff_slots,
        embedder=embedder,
        seed=seed,
        prior=prior if with_prior else "none",
        words=p.words,
        seconds=time.perf_counter() - t0,
    )
