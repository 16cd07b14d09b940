"""``edpbrl experiment ...``: the evaluation experiments (curves, query-efficiency table, timing).

* ``curves`` runs :func:`~edpbrl.experiments.simulate.simulate` and writes ``results.json``,
  ``results.csv`` (aggregated), ``runs.csv`` (per seed), ``table.md`` and one PNG per metric
  (error vs episodes, mean ± s.e. band, one panel per style).
* ``table`` reads a ``results.json`` and prints the query-efficiency table: per style and method,
  the episodes needed to reach the cosine error that random reaches at its reference budget.
* ``timing`` measures the time each method spends choosing queries.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

METRICS = ("cosine_error", "preference_error")
LABELS = {"cosine_error": "cosine error 1 − cos(θ̂, θ*)", "preference_error": "preference error"}


# -- output ---------------------------------------------------------------------------------
def write_csv(rows: Sequence[dict], path: str | Path) -> None:
    rows = list(rows)
    if not rows:
        Path(path).write_text("")
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def plot_curves(rows: Sequence[dict], metric: str, path: str | Path, title: str = "") -> None:
    """Metric vs episodes, mean ± s.e. band per method, one panel per style; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = sorted({r["style"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(1, len(styles), figsize=(4.2 * len(styles), 3.6), squeeze=False, sharey=False)
    colour = {m: f"C{i % 10}" for i, m in enumerate(methods)}  # same colour in every panel
    for ax, style in zip(axes[0], styles):
        for m in methods:
            rs = sorted(
                (r for r in rows if r["style"] == style and r["method"] == m),
                key=lambda r: r["episodes"],
            )
            if not rs:
                continue
            x = np.array([r["episodes"] for r in rs])
            y = np.array([r[f"{metric}_mean"] for r in rs])
            se = np.array([r[f"{metric}_se"] for r in rs])
            ax.plot(x, y, marker="o", ms=3, label=m, color=colour[m])
            ax.fill_between(x, y - se, y + se, color=colour[m], alpha=0.2)
        ax.set_title(style)
        ax.set_xlabel("episodes")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(LABELS.get(metric, metric))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour[m], marker="o", ms=3, label=m) for m in methods]
    axes[0][-1].legend(handles=handles, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- query-efficiency table -----------------------------------------------------------------
def episodes_to_reach(budgets: Sequence[float], errors: Sequence[float], target: float) -> float:
    """First budget at which the (piecewise-linear) error curve reaches ``target``; inf if never.

    Between grid points the curve is linearly interpolated; reaching it at the first budget
    returns that budget (no extrapolation below the grid).
    """
    b = np.asarray(budgets, dtype=float)
    e = np.asarray(errors, dtype=float)
    order = np.argsort(b)
    b, e = b[order], e[order]
    if e[0] <= target:
        return float(b[0])
    for i in range(1, len(b)):
        if e[i] <= target:
            return float(b[i - 1] + (e[i - 1] - target) / (e[i - 1] - e[i]) * (b[i] - b[i - 1]))
    return math.inf


def efficiency_table(
    rows: Sequence[dict],
    metric: str = "cosine_error",
    baseline: str = "random",
    reference: int | None = None,
) -> list[dict]:
    """Per (style, method): episodes to reach ``baseline``'s mean ``metric`` at ``reference``
    episodes (default: the largest budget of the baseline). Rows are aggregated results."""
    out = []
    for style in sorted({r["style"] for r in rows}):
        base = {r["episodes"]: r for r in rows if r["style"] == style and r["method"] == baseline}
        if not base:
            continue
        ref = reference if reference is not None else max(base)
        if ref not in base:
            raise ValueError(f"{baseline} has no result at {ref} episodes for style {style}")
        target = base[ref][f"{metric}_mean"]
        for m in dict.fromkeys(r["method"] for r in rows if r["style"] == style):
            rs = sorted(
                (r for r in rows if r["style"] == style and r["method"] == m),
                key=lambda r: r["episodes"],
            )
            need = episodes_to_reach([r["episodes"] for r in rs], [r[f"{metric}_mean"] for r in rs], target)
            at_ref = next((r for r in rs if r["episodes"] == ref), None)
            out.append(
                {
                    "style": style,
                    "method": m,
                    "target": target,
                    "reference": ref,
                    "episodes_needed": need,
                    "max_budget": max(r["episodes"] for r in rs),
                    "at_reference_mean": None if at_ref is None else at_ref[f"{metric}_mean"],
                    "at_reference_se": None if at_ref is None else at_ref[f"{metric}_se"],
                }
            )
    return out


def table_markdown(table: Sequence[dict], metric: str = "cosine_error") -> str:
    """Markdown: rows = methods, columns = styles, cells 'episodes needed (error at reference)'."""
    if not table:
        return "(no rows)\n"
    styles = list(dict.fromkeys(t["style"] for t in table))
    methods = list(dict.fromkeys(t["method"] for t in table))
    cell = {(t["style"], t["method"]): t for t in table}
    ref = table[0]["reference"]
    head = "| method | " + " | ".join(styles) + " |"
    lines = [
        f"Episodes needed to reach random's mean {metric.replace('_', ' ')} at {ref} episodes "
        f"(in brackets: the {metric.replace('_', ' ')} at {ref} episodes, mean ± s.e.).",
        "",
        head,
        "|" + "---|" * (len(styles) + 1),
    ]
    for m in methods:
        cells = []
        for s in styles:
            t = cell.get((s, m))
            if t is None:
                cells.append("–")
                continue
            n = t["episodes_needed"]
            txt = f">{t['max_budget']}" if math.isinf(n) else f"{n:.1f}"
            if t["at_reference_mean"] is not None:
                txt += f" ({t['at_reference_mean']:.3f} ± {t['at_reference_se']:.3f})"
            cells.append(txt)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- timing ---------------------------------------------------------------------------------
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


# -- commands -------------------------------------------------------------------------------
def _cfg(a):
    from .simulate import SimConfig

    return SimConfig.from_args(a)


def run_curves(
    styles, methods, budgets, seeds, cfg, out: str | Path, workers: int = 1, progress=True
) -> dict:
    """Simulate and write results.json / results.csv / runs.csv / table.md / *.png into ``out``."""
    from dataclasses import asdict

    from .simulate import simulate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = simulate(styles, methods, budgets, seeds, cfg, workers=workers, progress=progress)
    res["config"] = {
        **asdict(cfg),
        "styles": list(styles),
        "methods": list(methods),
        "budgets": sorted(budgets),
        "seeds": seeds,
        "workers": workers,
        "wall_seconds": time.perf_counter() - t0,
    }
    title = f"{cfg.embedder}, K={cfg.k}, β={cfg.rationality}, λ={cfg.lam}, {seeds} seeds"
    write_outputs(res, out, title)
    return res


def write_outputs(res: dict, out: str | Path, title: str = "") -> None:
    """results.json / results.csv / runs.csv / table.md / *.png of a result dict into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=2))
    write_csv(res["results"], out / "results.csv")
    write_csv(res["runs"], out / "runs.csv")
    for metric in METRICS:
        plot_curves(res["results"], metric, out / f"{metric}.png", title=title)
    if any(r["method"] == "random" for r in res["results"]):
        md = [table_markdown(efficiency_table(res["results"], m), m) for m in METRICS]
        (out / "table.md").write_text("\n".join(md))


def read_results(path: str | Path) -> dict:
    """A results.json written by ``experiment curves``; one-line errors for missing/broken files."""
    from ..errors import EdpbrlError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdpbrlError(f"results file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdpbrlError(f"cannot read results file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise EdpbrlError(f"{path} is not a results.json (no 'results' list)")
    return data


def merge_results(paths: Sequence[str | Path]) -> dict:
    """Concatenate the per-seed runs of several results.json files and re-aggregate."""
    from .simulate import aggregate

    runs, configs = [], []
    for p in paths:
        r = read_results(p)
        runs.extend(r["runs"])
        configs.append(r.get("config"))
    return {"results": aggregate(runs), "runs": runs, "config": {"merged": configs}}


def cmd_merge(a) -> int:
    res = merge_results(a.results)
    write_outputs(res, a.out, title=a.title)
    print(f"merged {len(a.results)} files ({len(res['runs'])} runs) into {a.out}")
    if (Path(a.out) / "table.md").exists():
        print((Path(a.out) / "table.md").read_text())
    return 0


def cmd_curves(a) -> int:
    res = run_curves(
        a.style,
        a.method,
        a.episodes,
        a.seeds,
        _cfg(a),
        a.out,
        workers=a.workers,
        progress=not a.no_progress,
    )
    print(f"wrote {a.out}/results.json, results.csv, runs.csv, *.png")
    if (Path(a.out) / "table.md").exists():
        print((Path(a.out) / "table.md").read_text())
    else:
        print(json.dumps(res["results"], indent=2))
    return 0


def cmd_table(a) -> int:
    rows = read_results(a.results)["results"]
    tab = efficiency_table(rows, a.metric, a.baseline, a.reference)
    md = table_markdown(tab, a.metric)
    if a.json:
        print(json.dumps(tab, indent=2, default=lambda x: None if x is None else float(x)))
    else:
        print(md, end="")
    if a.out:
        Path(a.out).write_text(md)
    return 0


def cmd_timing(a) -> int:
    rows = time_methods(
        a.method,
        a.episodes,
        vocab=a.vocab,
        embedder=a.embedder,
        k=a.k,
        lam=a.lam,
        style=a.style,
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


def add_parsers(sub) -> None:
    """Register ``edpbrl experiment {curves,table,merge,timing}``."""
    e = sub.add_parser("experiment", help="evaluation experiments (curves, table, timing)")
    esub = e.add_subparsers(dest="experiment", required=True)

    def model(p):
        p.add_argument("--vocab", help="vocabulary directory or YAML (default: packaged)")
        p.add_argument("--embedder", default="minilm", help="minilm, hashing[:DIM], clip:PATH")
        p.add_argument("--lam", type=float, default=1.0, help="regulariser λ (default 1)")
        p.add_argument("--k", type=int, default=4, help="options per question K (default 4)")

    c = esub.add_parser("curves", help="error vs episodes for several methods (JSON, CSV, PNG)")
    model(c)
    c.add_argument("--style", action="append", required=True, help="style file/name; repeatable")
    c.add_argument("--method", action="append", required=True, help="method; repeatable")
    c.add_argument("--episodes", type=int, action="append", required=True, help="budget; repeat")
    c.add_argument("--seeds", type=int, default=5, help="seeds per method (default 5)")
    c.add_argument(
        "--criterion", default="A", choices=["A", "D", "V", "E"], help="design criterion (default A)"
    )
    c.add_argument("--rationality", type=float, default=10.0, help="user inverse temperature β")
    c.add_argument(
        "--feedback",
        default="dense",
        choices=["dense", "final"],
        help="dense: one question per slot over prefixes; final: one per episode",
    )
    c.add_argument(
        "--world",
        default="embedding",
        choices=["embedding", "additive", "misspecified"],
        help="additive: option features = sum of token features (well-specified control)",
    )
    c.add_argument("--workers", type=int, default=1, help="parallel processes over seeds")
    c.add_argument("--out", required=True, help="output directory")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.set_defaults(fn=cmd_curves)

    t = esub.add_parser("table", help="query-efficiency table from a results.json")
    t.add_argument("results", help="results.json written by `edpbrl experiment curves`")
    t.add_argument("--metric", default="cosine_error", choices=list(METRICS), help="error metric")
    t.add_argument("--baseline", default="random", help="method whose error is the target")
    t.add_argument("--reference", type=int, default=50, help="baseline budget (default 50)")
    t.add_argument("--out", help="also write the markdown here")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(fn=cmd_table)

    mg = esub.add_parser("merge", help="merge several results.json (e.g. one per style)")
    mg.add_argument("results", nargs="+", help="results.json files")
    mg.add_argument("--out", required=True, help="output directory")
    mg.add_argument("--title", default="", help="plot title")
    mg.set_defaults(fn=cmd_merge)

    ti = esub.add_parser("timing", help="seconds per query selection for each method")
    model(ti)
    ti.add_argument("--method", action="append", required=True, help="method; repeatable")
    ti.add_argument("--episodes", type=int, default=25, help="episodes per timed session")
    ti.add_argument("--style", default="sunny", help="style file/name of the simulated user")
    ti.add_argument("--json", action="store_true", help="print JSON")
    ti.set_defaults(fn=cmd_timing)

    sg = esub.add_parser(
        "surrogate",
        help="does the design's surrogate predict the information "
        "of the questions asked? (predicted efficiency, actual information)",
    )
    model(sg)
    sg.add_argument("--method", action="append", required=True, help="method; repeatable")
    sg.add_argument(
        "--criterion", action="append", help="criteria for the predicted efficiency (default A, D, V)"
    )
    sg.add_argument("--episodes", type=int, default=50, help="episodes T (default 50)")
    sg.add_argument("--style", default="sunny", help="style file/name of the simulated user")
    sg.add_argument("--seeds", type=int, default=2, help="sessions per method")
    sg.add_argument("--rationality", type=float, default=10.0, help="user inverse temperature β")
    sg.add_argument(
        "--feedback",
        default="dense",
        choices=["dense", "final"],
        help="dense: one question per slot over prefixes; final: one per episode",
    )
    sg.add_argument(
        "--world",
        default="embedding",
        choices=["embedding", "additive", "misspecified"],
        help="what the user and the learner see (see SimConfig.world)",
    )
    sg.add_argument("--json", action="store_true", help="print JSON")
    sg.set_defaults(fn=cmd_surrogate)

    add_sweep_parser(esub, model)


def cmd_surrogate(a) -> int:
    """Predicted efficiency of the static design (surrogate) and actual information per method."""
    from ..mdp import PromptMDP
    from .simulate import SimConfig, setup_world
    from .surrogate import predicted_efficiency, surrogate_report

    cfg = SimConfig.from_args(a)
    w = setup_world(cfg)
    mdp = PromptMDP(w.design_vocab, [w.learner.encode(list(s.entries)) for s in w.design_vocab.slots])
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
    by = {}
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


def add_sweep_parser(esub, model) -> None:
    sw = esub.add_parser("sweep", help="error against user rationality β and regulariser λ")
    model(sw)
    sw.add_argument("--style", action="append", required=True, help="style file/name; repeatable")
    sw.add_argument("--method", action="append", required=True, help="method; repeatable")
    sw.add_argument("--episodes", type=int, default=50, help="budget (default 50)")
    sw.add_argument("--seeds", type=int, default=5, help="seeds per method (default 5)")
    sw.add_argument("--rationality", type=float, action="append", required=True, help="β values; repeatable")
    sw.add_argument("--lam-grid", type=float, action="append", required=True, help="λ values; repeatable")
    sw.add_argument(
        "--criterion", default="A", choices=["A", "D", "V", "E"], help="design criterion (default A)"
    )
    sw.add_argument(
        "--feedback",
        default="dense",
        choices=["dense", "final"],
        help="dense: one question per slot over prefixes; final: one per episode",
    )
    sw.add_argument(
        "--world",
        default="embedding",
        choices=["embedding", "additive", "misspecified"],
        help="what the user and the learner see (see SimConfig.world)",
    )
    sw.add_argument("--workers", type=int, default=1, help="parallel processes over seeds")
    sw.add_argument("--out", required=True, help="output directory")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.add_argument("--json", action="store_true", help="print JSON")
    sw.set_defaults(fn=cmd_sweep)


def cmd_sweep(a) -> int:
    import dataclasses

    from .simulate import SimConfig
    from .sweep import run_sweep, sweep_markdown, write_sweep

    base = dataclasses.replace(SimConfig.from_args(a), rationality=10.0)
    rows = run_sweep(
        a.style,
        a.method,
        a.episodes,
        a.seeds,
        a.rationality,
        a.lam_grid,
        base,
        workers=a.workers,
        progress=not a.no_progress,
    )
    write_sweep(rows, a.out)
    md = "\n\n".join(
        f"**{m.replace('_', ' ')}** at {a.episodes} episodes\n\n{sweep_markdown(rows, m)}"
        for m in ("cosine_error", "preference_error")
    )
    Path(a.out, "sweep.md").write_text(md + "\n")
    print(json.dumps({"results": rows}, indent=2) if a.json else md)
    return 0
