"""Reporting experiment results: CSV, plots, the query-efficiency table, results files.

* :func:`plot_curves` — error against episodes, mean ± s.e. band per method, one panel per style;
* :func:`efficiency_table` / :func:`table_markdown` — per style and method, the episodes needed to
  reach the error that the baseline reaches at its reference budget;
* :func:`write_outputs` / :func:`read_results` / :func:`merge_results` — the ``results.json``
  layout written by ``edpbrl experiment curves`` (per-seed ``runs`` + aggregated ``results``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import EdpbrlError

METRICS = ("cosine_error", "preference_error")
LABELS = {"cosine_error": "cosine error 1 − cos(θ̂, θ*)", "preference_error": "preference error"}


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
    episodes (default: the largest budget of the baseline). Rows are aggregated results.

    Raises EdpbrlError (one line) for an unknown metric, a baseline that is not among the rows'
    methods, or a reference budget the baseline was not run at."""
    if metric not in METRICS:
        raise EdpbrlError(f"unknown metric {metric!r}: expected one of {', '.join(METRICS)}")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    if rows and baseline not in methods:
        raise EdpbrlError(f"baseline {baseline!r} is not in the results (methods: {', '.join(methods)})")
    out = []
    for style in sorted({r["style"] for r in rows}):
        base = {r["episodes"]: r for r in rows if r["style"] == style and r["method"] == baseline}
        if not base:
            continue
        ref = reference if reference is not None else max(base)
        if ref not in base:
            have = ", ".join(str(b) for b in sorted(base))
            raise EdpbrlError(f"{baseline} has no result at {ref} episodes for style {style} (it has {have})")
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
                    "baseline": baseline,
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
    baseline = table[0].get("baseline", "random")
    head = "| method | " + " | ".join(styles) + " |"
    lines = [
        f"Episodes needed to reach {baseline}'s mean {metric.replace('_', ' ')} at {ref} episodes "
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


def aggregate(rows: list[dict]) -> list[dict]:
    """Mean and standard error over seeds per (style, method, episodes)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["style"], r["method"], r["episodes"]), []).append(r)
    out = []
    for (style, method, episodes), rs in groups.items():
        entry = {"style": style, "method": method, "episodes": episodes, "seeds": len(rs)}
        for key in ("cosine_error", "preference_error", "choice_accuracy"):
            if not all(key in r for r in rs):  # rows from older runs lack newer metrics
                continue
            v = np.array([r[key] for r in rs])
            entry[f"{key}_mean"] = float(v.mean())
            entry[f"{key}_se"] = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
        if all("questions" in r for r in rs):  # budgets in questions as well as episodes
            entry["questions_mean"] = float(np.mean([r["questions"] for r in rs]))
        entry["seconds"] = float(np.mean([r["seconds"] for r in rs]))
        out.append(entry)
    return out


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
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdpbrlError(f"results file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdpbrlError(f"cannot read results file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise EdpbrlError(f"{path} is not a results.json (no 'results' list)")
    return data


SETTINGS = (
    "k",
    "rationality",
    "lam",
    "criterion",
    "vocab",
    "embedder",
    "feedback",
    "n_test",
    "n_pairs",
    "world",
    "n_choice_tests",
)  # the SimConfig fields a results.json's config records: runs of one setting agree on them
NUMBERS = ("cosine_error", "preference_error", "choice_accuracy", "questions")


def _settings(config) -> dict:
    return {k: config[k] for k in SETTINGS if k in config} if isinstance(config, dict) else {}


def _same_numbers(a: dict, b: dict) -> bool:
    for key in NUMBERS:
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            if x is not y:
                return False
        elif not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def merge_results(paths: Sequence[str | Path]) -> dict:
    """Concatenate the per-seed runs of several results.json files and re-aggregate.

    The same file given twice is an error. A run that several files hold (same style, method,
    episodes, seed and settings, same numbers) is counted once; the same (style, method, episodes,
    seed) with different numbers or settings is an error: both cannot be the one run of that seed,
    and counting both would shrink the standard error."""
    seen_files: list[Path] = []
    for p in paths:
        rp = Path(p).resolve()
        if rp in seen_files:
            raise EdpbrlError(f"results file given twice: {p}")
        seen_files.append(rp)
    runs, configs, where = [], [], {}
    duplicates = 0
    for p in paths:
        r = read_results(p)
        configs.append(r.get("config"))
        settings = _settings(r.get("config"))
        if not isinstance(r.get("runs"), list):
            raise EdpbrlError(f"{p} has no per-seed 'runs' list to merge")
        for run in r["runs"]:
            key = (run.get("style"), run.get("method"), run.get("episodes"), run.get("seed"))
            if key in where:
                other_path, other_run, other_settings = where[key]
                if other_settings != settings:
                    diff = sorted(
                        k
                        for k in set(settings) | set(other_settings)
                        if settings.get(k) != other_settings.get(k)
                    )
                    raise EdpbrlError(
                        f"{other_path} and {p} both hold style {key[0]}, method {key[1]}, {key[2]} "
                        f"episodes, seed {key[3]}, run with different settings ({', '.join(diff)}); "
                        "merge only runs of one setting"
                    )
                if not _same_numbers(other_run, run):
                    raise EdpbrlError(
                        f"{other_path} and {p} both hold style {key[0]}, method {key[1]}, {key[2]} "
                        f"episodes, seed {key[3]} with different results; a seed is one run, so "
                        "they cannot both be counted"
                    )
                duplicates += 1
                continue
            where[key] = (p, run, settings)
            runs.append(run)
    common = _settings(configs[0]) if configs else {}
    for c in configs[1:]:
        s = _settings(c)
        common = {k: v for k, v in common.items() if s.get(k) == v}
    return {
        "results": aggregate(runs),
        "runs": runs,
        "config": {**common, "merged": configs, "duplicate_runs_dropped": duplicates},
    }
