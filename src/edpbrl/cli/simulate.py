"""``edpbrl simulate`` (methods against simulated users) and ``edpbrl demo`` (the main job)."""

from __future__ import annotations

import json
import sys

from ..personalizer import MAX_EPISODES
from .options import (
    add_json_option,
    add_method_option,
    add_model_options,
    add_out_option,
    add_parallel_options,
    add_simulation_options,
    check_out,
    embedder_help,
    int_range,
    positive_int,
    print_json,
    progress_bar,
    sim_config,
)


def cmd_simulate(a) -> int:
    from ..experiments.simulate import simulate

    out = check_out(a.out, force=a.force, stdout="use --json to print the results")
    res = simulate(
        a.style, a.method, a.episodes, a.seeds, sim_config(a), workers=a.workers, progress=not a.no_progress
    )
    if out is not None:
        out.write_text(json.dumps(res, indent=2))
    if a.json:
        print_json({"results": res["results"]})
        return 0
    print(f"{'style':<14} {'method':<18} {'episodes':>8} {'cosine error':>18} {'preference error':>18}")
    for r in sorted(res["results"], key=lambda r: (r["style"], r["episodes"], r["method"])):
        print(
            f"{r['style']:<14} {r['method']:<18} {r['episodes']:>8} "
            f"{r['cosine_error_mean']:>10.3f} ± {r['cosine_error_se']:.3f} "
            f"{r['preference_error_mean']:>10.3f} ± {r['preference_error_se']:.3f}"
        )
    return 0


def cmd_demo(a) -> int:
    """A simulated user with a taste in words; ED-PBRL asks, learns, and writes prompts."""
    from tqdm import tqdm

    from ..personalizer import Personalizer
    from ..users import LinearUser, cosine_error

    with progress_bar("design") as cb:
        p = Personalizer.default(
            k=a.k,
            episodes=a.episodes,
            method=a.method,
            seed=a.seed,
            embedder=a.embedder,
            lam=a.lam,
            progress=cb,
        )
    user = LinearUser.from_style(a.style, p.embedder, rationality=a.rationality, seed=a.seed)
    for q in tqdm(iter(p.ask, None), total=p.n_questions, desc="answering", file=sys.stderr):
        p.tell(q, user.choose(p.embedder.encode(q.options)))
    s = p.summary(top=3)
    cert = p.certificate
    if cert:
        print(
            f"design: {cert['solver']} {cert['criterion']}-optimal, relative FW gap "
            f"{cert['relative_gap']:.1e} in {cert['seconds']:.1f} s"
        )
    print(
        f"simulated user: style '{a.style}', rationality {a.rationality}; "
        f"{p.n_answered} answers to {a.k}-way questions over {a.episodes} episodes"
    )
    print(f"cosine error of θ̂ vs the user's true taste: {cosine_error(p.fit(), user.theta):.3f}")
    print(f"mean uncertainty of token scores: {s['uncertainty']:.3f}")
    print("what it learned (highest / lowest scoring tokens per slot):")
    for slot in s["slots"]:
        print(f"  {slot['slot']:<12} + {', '.join(t for t, _ in slot['top'])}")
        print(f"  {'':<12} - {', '.join(t for t, _ in slot['bottom'])}")
    print("personalised prompts:")
    for t in p.best_prompts(n=4):
        print(f"  {t}")
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("simulate", help="run methods against simulated users and report errors")
    add_model_options(s)
    add_simulation_options(s)
    s.add_argument(
        "--style",
        action="append",
        required=True,
        help="style sentences file (one per line) or packaged style name; repeatable",
    )
    add_method_option(s)
    s.add_argument(
        "--episodes",
        type=positive_int,
        action="append",
        required=True,
        help="budget in episodes; repeatable (all evaluated in one run)",
    )
    s.add_argument("--seeds", type=positive_int, default=5, help="seeds per method (default 5)")
    add_parallel_options(s)
    add_out_option(s, "also write results and per-seed runs as JSON here")
    add_json_option(s, 'print JSON {"results": [...]}')
    s.set_defaults(fn=cmd_simulate)

    m = sub.add_parser("demo", help="the main job: simulated personalisation on the defaults")
    m.add_argument("--style", default="sunny", help="the simulated user's taste (style file/name)")
    add_method_option(m, repeatable=False, default="ed-pbrl")
    m.add_argument(
        "--episodes",
        type=int_range(1, MAX_EPISODES),
        default=30,
        help=f"episodes, 1..{MAX_EPISODES} (default 30)",
    )
    m.add_argument("--k", type=int_range(2), default=4, help="options per question")
    m.add_argument("--lam", type=float, default=1.0, help="regulariser λ")
    m.add_argument("--rationality", type=float, default=10.0, help="user inverse temperature")
    m.add_argument("--embedder", default="minilm", help=embedder_help())
    m.add_argument("--seed", type=int_range(0), default=0, help="random seed")
    m.set_defaults(fn=cmd_demo)
