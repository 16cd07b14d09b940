"""``edpbrl experiment ...``: the evaluation experiments.

* ``curves`` — :func:`~edpbrl.experiments.curves.run_curves`: results.json, results.csv,
  runs.csv, table.md and one PNG per metric;
* ``table`` — the query-efficiency table of a results.json;
* ``merge`` — merge several results.json (e.g. seeds run in chunks);
* ``timing`` — seconds each method spends choosing questions;
* ``surrogate`` — does the design's surrogate predict the information of the questions asked?
* ``sweep`` — error against user rationality β and regulariser λ.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .options import (
    add_criterion_option,
    add_json_option,
    add_method_option,
    add_model_options,
    add_out_option,
    add_parallel_options,
    add_simulation_options,
    check_out,
    int_range,
    nonnegative_float,
    parallel_kwargs,
    positive_float,
    positive_int,
    progress_bar,
    run_grid,
    sim_config,
)

NO_STDOUT = "writes several files; give a directory"


def cmd_curves(a) -> int:
    from ..experiments.curves import run_curves

    check_out(a.out, force=a.force, directory=True, stdout=NO_STDOUT)
    styles, methods, budgets, seeds = run_grid(a)
    res = run_curves(
        styles,
        methods,
        budgets,
        seeds,
        sim_config(a),
        a.out,
        **parallel_kwargs(a),
        seed_offset=a.seed_offset,
    )
    print(f"wrote {a.out}/results.json, results.csv, runs.csv, *.png")
    if (Path(a.out) / "table.md").exists():
        print((Path(a.out) / "table.md").read_text())
    else:
        print(json.dumps(res["results"], indent=2))
    return 0


def cmd_table(a) -> int:
    from ..experiments.report import efficiency_table, read_results, table_markdown

    out = check_out(a.out, force=a.force, stdout="the table is printed already; give a file path")
    rows = read_results(a.results)["results"]
    tab = efficiency_table(rows, a.metric, a.baseline, a.reference)
    md = table_markdown(tab, a.metric)
    if a.json:
        print(json.dumps(tab, indent=2, default=lambda x: None if x is None else float(x)))
    else:
        print(md, end="")
    if out is not None:
        out.write_text(md)
    return 0


def cmd_merge(a) -> int:
    from ..experiments.report import merge_results, write_outputs

    check_out(a.out, force=a.force, directory=True, stdout=NO_STDOUT)
    res = merge_results(a.results)
    write_outputs(res, a.out, title=a.title)
    dropped = res["config"]["duplicate_runs_dropped"]
    extra = f"; {dropped} duplicate runs counted once" if dropped else ""
    print(f"merged {len(a.results)} files ({len(res['runs'])} runs{extra}) into {a.out}")
    if (Path(a.out) / "table.md").exists():
        print((Path(a.out) / "table.md").read_text())
    return 0


def cmd_timing(a) -> int:
    from ..experiments.timing import time_methods

    rows = time_methods(
        a.method, a.episodes, vocab=a.vocab, embedder=a.embedder, k=a.k, lam=a.lam, style=a.style
    )
    if a.json:
        print(json.dumps({"timing": rows}, indent=2))
        return 0
    print(f"{'method':<18} {'plan calls':>10} {'total s':>9} {'s/episode':>10} {'s/question':>11}")
    for r in rows:
        print(
            f"{r['method']:<18} {r['plan_calls']:>10} {r['seconds_total']:>9.2f} "
            f"{r['seconds_per_episode']:>10.4f} {r['seconds_per_question']:>11.4f}"
        )
    return 0


def cmd_surrogate(a) -> int:
    """Predicted efficiency of the static design (surrogate) and actual information per method."""
    from ..experiments.simulate import setup_world
    from ..experiments.surrogate import predicted_efficiency, surrogate_report
    from ..mdp import PromptMDP

    cfg = sim_config(a)
    w = setup_world(cfg)
    mdp = PromptMDP.from_embedder(w.design_vocab, w.learner)
    eff = [predicted_efficiency(mdp, c, a.episodes, a.lam) for c in (a.criterion or ["A", "D", "V"])]
    rows = surrogate_report(a.method, a.episodes, cfg, a.style, a.seeds)
    if a.json:
        print(json.dumps({"predicted_efficiency": eff, "questions": rows}, indent=2))
        return 0
    for e in eff:
        print(
            f"{e['criterion']}-design, T={e['episodes']}, λ={e['lam']}: random needs "
            f"{e['random_episodes_for_same_value']:.1f} episodes for the same surrogate value "
            f"(predicted ratio {e['predicted_ratio']:.2f})"
        )
    print(f"{'method':<18} {'A (1/K)':>10} {'test var (1/K)':>15} {'A (θ*)':>10} {'test var (θ*)':>14}")
    by: dict = {}
    for r in rows:
        by.setdefault(r["method"], []).append(r)
    keys = (
        "theta_agnostic_a_criterion",
        "theta_agnostic_test_variance",
        "at_theta_star_a_criterion",
        "at_theta_star_test_variance",
    )
    for m, rs in by.items():
        v = [sum(r[k] for r in rs) / len(rs) for k in keys]
        print(f"{m:<18} {v[0]:>10.2f} {v[1]:>15.4f} {v[2]:>10.2f} {v[3]:>14.4f}")
    return 0


def _per_style_setup(a) -> tuple:
    """(config, styles) of a per-style command (ceiling, guess); checks ``--out`` first."""
    if a.out:
        check_out(a.out, force=a.force)
    return sim_config(a), a.style or ["paper:sunny", "paper:medieval", "paper:technological"]


def _write_rows(a, cfg, rows: list[dict]) -> None:
    """With ``--out``: the config and the per-style rows as JSON."""
    if a.out:
        Path(a.out).write_text(json.dumps({"config": dataclasses.asdict(cfg), "results": rows}, indent=2))


def cmd_ceiling(a) -> int:
    """The oracle bound on any design's gain over random questions (posterior test-score variance)."""
    from ..experiments.ceiling import information_ceiling

    cfg, styles = _per_style_setup(a)
    rows = []
    with progress_bar("ceiling", count=False, disable=a.no_progress) as cb:
        for style in styles:
            rows.append(
                information_ceiling(
                    style,
                    cfg,
                    a.questions or (30, 100, 300),
                    pool=a.pool,
                    orders=a.orders,
                    progress=cb,
                    knows=a.knows,
                    features=a.features,
                    target=a.target,
                    realise=a.realise,
                ).as_dict()
            )
    _write_rows(a, cfg, rows)
    if a.json:
        print(json.dumps({"results": rows}, indent=2))
        return 0
    print(
        f"prior {cfg.prior}, words {cfg.words}, pool {a.pool} episodes, {a.orders} random orders; the "
        f"oracle knows the {a.knows} θ, chooses with {a.features} features for the {a.target} prompts"
    )
    head = (
        f"{'style':<22} {'questions':>9} {'T random':>9} {'T oracle':>9} "
        f"{'random Qs for oracle':>21} {'ratio':>6} {'R random':>9} {'R oracle':>9}"
        f" {'nats random':>11} {'nats oracle':>11}"
    )
    if a.realise:
        head += f" {'pref err random':>16} {'pref err oracle':>16}"
    print(head)
    for r in rows:
        print(
            f"{r['style']}: departure from the prior's mean (θ − m)ᵀP(θ − m)/d"
            f" = {r['departure_distance']:.2f}; nats per answer: mean {r['question_evidence_mean']:.3f},"
            f" the pool's most telling question {r['question_evidence_max']:.3f}"
        )
        for j, (q, tr, to, need) in enumerate(
            zip(r["questions"], r["random_variance"], r["oracle_variance"], r["random_questions_for_oracle"])
        ):
            line = (
                f"{r['style']:<22} {q:>9} {tr:>9.4f} {to:>9.4f} {need:>21.0f} {need / q:>6.2f}"
                f" {r['random_risk'][j]:>9.4f} {r['oracle_risk'][j]:>9.4f}"
                f" {r['random_evidence'][j]:>11.2f} {r['oracle_evidence'][j]:>11.2f}"
            )
            if a.realise:
                line += "".join(
                    f" {r[f'{k}_pref_error'][j]:>9.3f} ± {r[f'{k}_pref_error_se'][j]:.3f}"
                    for k in ("random", "oracle")
                )
            print(line)
    return 0


def cmd_guess(a) -> int:
    """The zero-question guess's preference error for each style, between oracle bounds."""
    from ..experiments.guess import GUESSES, ORACLES, zero_question_guesses

    cfg, styles = _per_style_setup(a)
    rows = []
    with progress_bar("guess", disable=a.no_progress) as cb:
        for i, style in enumerate(styles):
            cb(i, len(styles), style)
            rows.append(zero_question_guesses(style, cfg).as_dict())
    _write_rows(a, cfg, rows)
    if a.json:
        print(json.dumps({"results": rows}, indent=2))
        return 0
    print(
        f"prior {cfg.prior}, words {cfg.words}: preference error before any question ((o): oracle, knows θ*)"
    )
    names = [g for g in GUESSES if any(g in r["preference_error"] for r in rows)]
    heads = [f"{g} (o)" if g in ORACLES else g for g in names]
    print(f"{'style':<22}" + "".join(f" {h:>{max(len(h), 6)}}" for h in heads))
    for style, r in zip(styles, rows):
        cells = [r["preference_error"].get(g) for g in names]
        label = style if str(style).startswith("paper:") else r["style"]
        print(
            f"{label:<22}"
            + "".join(f" {'-' if v is None else f'{v:.3f}':>{max(len(h), 6)}}" for v, h in zip(cells, heads))
        )
    return 0


def cmd_sweep(a) -> int:
    from ..experiments.sweep import run_sweep, sweep_markdown, write_sweep

    check_out(a.out, force=a.force, directory=True, stdout=NO_STDOUT)
    base = dataclasses.replace(sim_config(a), rationality=10.0)
    rows = run_sweep(
        a.style,
        a.method,
        a.episodes,
        a.seeds,
        a.rationality,
        a.lam_grid,
        base,
        **parallel_kwargs(a),
    )
    write_sweep(rows, a.out)
    md = "\n\n".join(
        f"**{m.replace('_', ' ')}** at {a.episodes} episodes\n\n{sweep_markdown(rows, m)}"
        for m in ("cosine_error", "preference_error")
    )
    Path(a.out, "sweep.md").write_text(md + "\n")
    print(json.dumps({"results": rows}, indent=2) if a.json else md)
    return 0


def add_parsers(sub) -> None:
    """Register ``edpbrl experiment {curves,table,merge,timing,surrogate,ceiling,guess,sweep}``."""
    from ..experiments.report import METRICS

    e = sub.add_parser(
        "experiment",
        help="evaluation experiments (curves, table, merge, timing, surrogate, ceiling, guess, sweep)",
    )
    esub = e.add_subparsers(dest="experiment", required=True)

    c = esub.add_parser("curves", help="error vs episodes for several methods (JSON, CSV, PNG)")
    add_model_options(c, protocol=True)
    add_simulation_options(c, protocol=True)
    c.add_argument("--style", action="append", help="style file/name or paper:NAME; repeatable")
    add_method_option(c, required=False)
    c.add_argument("--episodes", type=positive_int, action="append", help="budget; repeatable")
    c.add_argument("--seeds", type=positive_int, help="seeds per method (default: the protocol's, else 5)")
    c.add_argument(
        "--seed-offset", type=int_range(0), default=0, help="first seed (run seeds in chunks; default 0)"
    )
    add_parallel_options(c)
    add_out_option(c, "output directory (its parent must exist)", required=True, metavar="DIR")
    c.set_defaults(fn=cmd_curves)

    t = esub.add_parser("table", help="query-efficiency table from a results.json")
    t.add_argument("results", help="results.json written by `edpbrl experiment curves`")
    t.add_argument("--metric", default="cosine_error", choices=list(METRICS), help="error metric")
    t.add_argument("--baseline", default="random", help="method whose error is the target")
    t.add_argument("--reference", type=positive_int, default=50, help="baseline budget (default 50)")
    add_out_option(t, "also write the markdown here")
    add_json_option(t)
    t.set_defaults(fn=cmd_table)

    mg = esub.add_parser("merge", help="merge several results.json (e.g. one per style or seed chunk)")
    mg.add_argument("results", nargs="+", help="results.json files")
    add_out_option(mg, "output directory (its parent must exist)", required=True, metavar="DIR")
    mg.add_argument("--title", default="", help="plot title")
    mg.set_defaults(fn=cmd_merge)

    ti = esub.add_parser("timing", help="seconds per query selection for each method")
    add_model_options(ti)
    add_method_option(ti)
    ti.add_argument("--episodes", type=positive_int, default=25, help="episodes per timed session")
    ti.add_argument("--style", default="sunny", help="style file/name of the simulated user")
    add_json_option(ti)
    ti.set_defaults(fn=cmd_timing)

    sg = esub.add_parser(
        "surrogate",
        help="does the design's surrogate predict the information "
        "of the questions asked? (predicted efficiency, actual information)",
    )
    add_model_options(sg)
    add_simulation_options(sg, criterion=False)
    add_criterion_option(sg, repeatable=True)
    add_method_option(sg)
    sg.add_argument("--episodes", type=positive_int, default=50, help="episodes T (default 50)")
    sg.add_argument("--style", default="sunny", help="style file/name of the simulated user")
    sg.add_argument("--seeds", type=positive_int, default=2, help="sessions per method")
    add_json_option(sg)
    sg.set_defaults(fn=cmd_surrogate)

    ce = esub.add_parser(
        "ceiling",
        help="how much could any choice of questions gain over random ones? "
        "(an oracle that knows the person's taste, greedy from a pool)",
    )
    add_model_options(ce)
    add_simulation_options(ce, criterion=False)
    ce.add_argument(
        "--style", action="append", help="style file/name or paper:NAME; repeatable (default: paper's 3)"
    )
    ce.add_argument(
        "--questions",
        type=positive_int,
        action="append",
        help="budget in questions; repeatable (30, 100, 300)",
    )
    ce.add_argument("--pool", type=int_range(2), default=600, help="random candidate episodes (default 600)")
    ce.add_argument("--orders", type=positive_int, default=20, help="random orders averaged (default 20)")
    ce.add_argument(
        "--knows",
        choices=("truth", "prior"),
        default="truth",
        help="the θ the oracle chooses with: the person's true one, or the prior's mean (default truth)",
    )
    ce.add_argument(
        "--features",
        choices=("real", "surrogate"),
        default="real",
        help="what the oracle chooses with: the encoder's prefix embeddings, or the designs' token-sum "
        "surrogate (default real)",
    )
    ce.add_argument(
        "--target",
        choices=("test", "vocab", "risk"),
        default="test",
        help="whose scores' variance the oracle lowers: the held-out test prompts', or the design "
        "vocabulary's random prefixes'; risk: this person's own expected test-score error, bias "
        "included (knows the truth) (default test)",
    )
    ce.add_argument(
        "--realise",
        type=int_range(0),
        default=0,
        help="also simulate this many people answering the oracle's and random questions, and report "
        "their MAP estimates' preference error (default 0: none)",
    )
    ce.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_out_option(ce, "also write the JSON here")
    add_json_option(ce)
    ce.set_defaults(fn=cmd_ceiling)

    gu = esub.add_parser(
        "guess",
        help="how good is the guess before any question (the prior's mean moved by the words), "
        "between oracle bounds",
    )
    add_model_options(gu, protocol=True)
    add_simulation_options(gu, criterion=False, protocol=True)
    gu.add_argument(
        "--style", action="append", help="style file/name or paper:NAME; repeatable (default: paper's 3)"
    )
    gu.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_out_option(gu, "also write the JSON here")
    add_json_option(gu)
    gu.set_defaults(fn=cmd_guess)

    sw = esub.add_parser("sweep", help="error against user rationality β and regulariser λ")
    add_model_options(sw)
    add_simulation_options(sw, rationality=False)
    sw.add_argument("--style", action="append", required=True, help="style file/name; repeatable")
    add_method_option(sw)
    sw.add_argument("--episodes", type=positive_int, default=50, help="budget (default 50)")
    sw.add_argument("--seeds", type=positive_int, default=5, help="seeds per method (default 5)")
    sw.add_argument(
        "--rationality", type=nonnegative_float, action="append", required=True, help="β values; repeatable"
    )
    sw.add_argument(
        "--lam-grid", type=positive_float, action="append", required=True, help="λ values; repeatable"
    )
    add_parallel_options(sw)
    add_out_option(sw, "output directory (its parent must exist)", required=True, metavar="DIR")
    add_json_option(sw)
    sw.set_defaults(fn=cmd_sweep)
