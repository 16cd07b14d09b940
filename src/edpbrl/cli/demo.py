"""``edpbrl demo`` (the main job, ``make demo``): a simulated person, told in plain words.

The work is :func:`edpbrl.experiments.demo.run_demo`; this module only prints its result (or,
with ``--json``, the same fields as JSON).
"""

from __future__ import annotations

import textwrap

from ..personalizer import MAX_EPISODES
from .options import (
    add_json_option,
    add_method_option,
    embedder_help,
    int_range,
    nonnegative_float,
    positive_float,
    print_json,
    progress_bar,
)

WIDTH = 100


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> str:
    return textwrap.fill(
        text, WIDTH, initial_indent=indent if first is None else first, subsequent_indent=indent
    )


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def print_demo(r) -> None:
    """The plain-words report of a :class:`~edpbrl.experiments.demo.DemoResult`."""
    n_sent = len(r.sentences)
    print(
        f"edpbrl demo: learning a simulated person's taste from {r.episodes} rounds of {r.k}-way questions\n"
    )
    print(f"1. The person: a simulated person whose taste is the style '{r.style}'")
    print(f"   (described by {n_sent} sentence{'s' * (n_sent != 1)}; the first few):")
    for s in r.sentences[:3]:
        print(_wrap(f"“{s}”", "     "))
    print(
        _wrap(
            f"Their taste is the average of these sentences' embeddings: the closer a prompt's "
            f"embedding points to it, the more they like the prompt. Shown {r.k} options they tend to "
            f"pick the one they like best, but not always (rationality β = {r.rationality:g}; higher is "
            f"more decisive): in the questions they were asked, their favourite had on average a "
            f"{_pct(r.picked_favourite)} chance of being picked (a random clicker: {_pct(1 / r.k)}).",
            "   ",
        )
    )
    print()

    per = r.questions // max(r.episodes, 1)
    print(f"2. What it asked, and why: {r.questions} questions, each “which of these {r.k} do you prefer?”")
    if r.feedback == "dense":
        print(
            _wrap(
                f"{r.episodes} episodes; each builds a prompt slot by slot ({', '.join(r.slots)}) and asks "
                f"about the {r.k} partial prompts at every slot (about {per} questions per episode; "
                "a question whose options are all the same is left out).",
                "   ",
            )
        )
    print(_wrap(f"Method {r.method}: {r.method_help}.", "   "))
    c = r.certificate
    if c:
        stop = "" if c["converged"] else "; it stopped at its iteration limit before its tolerance"
        if c.get("optimality") == "stationary":
            # the K-policy design is not jointly concave: a stationarity gap and a global bound
            bound = 100 * c["bound_gap"] / max(abs(c["objective"]), 1e-300)
            cert = (
                f"Its certificate: no small change of any one policy improves it (relative Frank-Wolfe "
                f"gap {c['relative_gap']:.1e}, {c['solver']}, {c['iterations']} sweeps{stop}); this "
                "problem is not concave, so that is not a proof of the best design, but a relaxation "
                f"proves the best possible is at most {bound:.2g}% better."
            )
        else:
            cert = (
                f"Its certificate: this design is provably within {100 * c['relative_gap']:.2g}% of the "
                f"best possible for this criterion (relative Frank-Wolfe gap {c['relative_gap']:.1e}, "
                f"{c['solver']}, {c['iterations']} iterations{stop})."
            )
        print(
            _wrap(
                f"The questions were chosen by an optimal experimental design, before any answer: the mix "
                f"of words that makes {r.criterion_aim} smallest ({r.criterion}-criterion) for "
                f"{r.episodes} episodes, computed in {c['seconds']:.1f} s. " + cert,
                "   ",
            )
        )
    if r.examples:
        print("   Example questions (whole prompts, from the first episodes):")
        for e in r.examples:
            print(f"     question {e.index + 1} (episode {e.episode + 1}):")
            for j, o in enumerate(e.options):
                mark = ""
                if j == e.choice == e.favourite:
                    mark = f"  ← picked: their favourite (picked with chance {_pct(e.choice_probability)})"
                elif j == e.choice:
                    mark = f"  ← picked (chance {_pct(e.choice_probability)}), not their favourite"
                elif j == e.favourite:
                    mark = "  ← their favourite"
                print(_wrap(f"{j + 1}) {o}{mark}", "          ", "       "))
    print()

    print(f"3. How close it got, on {r.test_pairs:,} pairs of held-out prompts (made of words it never asked")
    print("   about): the share of pairs the estimate orders differently from the person.")
    print("   0% = perfect, 50% = a coin flip (ties count half).")
    head = f"   {'':<26} {'questions':>9}  {'preference error':>16}  {'cosine error':>12}"
    print(head)
    for row in r.comparisons:
        print(
            f"   {row.name:<26} {row.questions:>9}  {_pct(row.preference_error):>16}  "
            f"{row.cosine_error:>12.3f}"
        )
    if r.prior != "none":
        said = f"the person's own words ({r.words!r}) and " if r.words else ""
        print(
            _wrap(
                f"The learner started from a guess: {said}a prior fitted on earlier people "
                f"(prior {r.prior}; a person with this style's name is left out of it). The rows show "
                "that guess before any question, then what the answers add — against random questions "
                "at the same count with the same start, and with the flat prior.",
                "   ",
            )
        )
    print(
        _wrap(
            "cosine error = 1 − cos(estimate, true taste): 0 = the same direction, 1 = unrelated. "
            "This is one simulated person and one seed, and the rows move by several points from seed "
            "to seed: `edpbrl simulate --seeds N` averages many (README and docs/results.md: there the "
            "paper's ed-pbrl does not beat random questions).",
            "   ",
        )
    )
    print()

    print("4. What it learned, per slot: the words it now scores highest (+) and lowest (−), and")
    print("   the person's own favourites (*) for comparison.")
    for s in r.learned:
        print(_wrap(", ".join(s.likes), " " * 19, f"   {s.slot:<13} + "))
        print(_wrap(", ".join(s.dislikes), " " * 19, f"   {'':<13} − "))
        print(_wrap(", ".join(s.true_likes), " " * 19, f"   {'':<13} * "))
    print(
        _wrap(
            f"Uncertainty: a word's score is known to ± {r.uncertainty:.2f} (posterior s.d.), while "
            f"the learned scores spread ± {r.score_spread:.2f} across words: the larger the first "
            "against the second, the less settled the ranking.",
            "   ",
        )
    )
    print()

    differ = f", each differing from the others in ≥ {r.min_diff_slots} slots" if r.min_diff_slots else ""
    print(_wrap(f"5. Personalised prompts: beam search for the highest estimated score{differ}.", "   ", ""))
    print("   score: the estimate's θ̂ᵀx; beats: the share of held-out prompts the person likes less.")
    print(f"   {'score':>6}  {'beats':>6}  prompt")
    for pr in r.prompts:
        print(_wrap(pr.prompt, " " * 19, f"   {pr.score:6.3f}  {_pct(pr.person_percentile):>6}  "))
    print(f"\n({r.seconds:.0f} s; encoder {r.embedder}, K = {r.k}, seed {r.seed})")


def cmd_demo(a) -> int:
    """A simulated person with a taste in words; ED-PBRL asks, learns, and writes prompts."""
    from ..experiments.demo import run_demo

    with progress_bar("demo", count=False) as cb:
        res = run_demo(
            a.style,
            method=a.method,
            episodes=a.episodes,
            k=a.k,
            lam=a.lam,
            rationality=a.rationality,
            embedder=a.embedder,
            vocab=a.vocab,
            seed=a.seed,
            prior=a.prior,
            words=a.words,
            progress=cb,
        )
    if a.json:
        print_json(res.to_dict())
    else:
        print_demo(res)
    return 0


def add_parsers(sub) -> None:
    m = sub.add_parser("demo", help="the main job: a simulated person, what was asked, how close it got")
    m.add_argument("--style", default="sunny", help="the simulated person's taste (style file/name)")
    add_method_option(m, repeatable=False, default="ed-pbrl")
    m.add_argument(
        "--episodes",
        type=int_range(1, MAX_EPISODES),
        default=5,
        help=f"episodes, 1..{MAX_EPISODES} (default 5: 30 questions on the packaged vocabulary)",
    )
    m.add_argument(
        "--prior",
        default="packaged",
        help="the learner's prior: packaged (earlier people; default), none (flat) or a prior file",
    )
    m.add_argument(
        "--words",
        default="auto",
        help="the person's own words: auto (the style's name; default), misleading, none or a text",
    )
    m.add_argument("--k", type=int_range(2), default=4, help="options per question (default 4)")
    m.add_argument("--lam", type=positive_float, default=1.0, help="regulariser λ > 0 (default 1)")
    m.add_argument(
        "--rationality", type=nonnegative_float, default=10.0, help="the person's inverse temperature β"
    )
    m.add_argument("--embedder", default="minilm", help=embedder_help())
    m.add_argument("--vocab", help="vocabulary directory or YAML (default: the packaged one)")
    m.add_argument("--seed", type=int_range(0), default=0, help="random seed ≥ 0 (default 0)")
    add_json_option(m, "print the same content as JSON")
    m.set_defaults(fn=cmd_demo)
