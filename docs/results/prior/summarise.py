"""Tables and a plot of issue 9's experiments (run from the repository root after run.sh):

    python docs/results/prior/summarise.py            # prints markdown, writes summary.md + PNG

Reads docs/results/prior/*/merged/results.json (whichever exist); each row is a (style, method
[label], budget) cell with its mean ± s.e. over 20 seeds."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path("docs/results/prior")


def load() -> dict:
    cells = {}
    for f in sorted(ROOT.glob("*/merged/results.json")):
        for r in json.load(open(f))["results"]:
            key = (f.parts[-3], r["style"], r["method"], int(round(r["questions_mean"])))
            cells[key] = r
    return cells


def fmt(r, metric="preference_error") -> str:
    return f"{r[metric + '_mean']:.3f} ± {r[metric + '_se']:.3f}"


def table(cells, exp_methods, budgets, metric="preference_error") -> str:
    """Rows: methods; columns: style @ questions."""
    exps = {e for e, _ in exp_methods}
    styles = sorted({k[1] for k in cells if k[0] in exps})
    cols = [(st, q) for st in styles for q in budgets]
    lines = [
        "| method | " + " | ".join(f"{st} @{q}" for st, q in cols) + " |",
        "|---" * (1 + len(cols)) + "|",
    ]
    for e, m in exp_methods:
        row = [m]
        for st, q in cols:
            r = cells.get((e, st, m, q))
            row.append(f"{r[metric + '_mean']:.3f}" if r else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def loo_table(cells) -> str:
    """Per packaged style: flat random at 30 / 300 questions; with the prior, random at 30 / 100 /
    300 and the two designs at 30 / 100; the system ratio (prior random @30 ÷ flat random @300)."""
    rows = []
    for s in sorted({k[1] for k in cells if k[0] == "loo-flat"}):
        get = {
            "f30": cells.get(("loo-flat", s, "random[flat]", 30)),
            "f300": cells.get(("loo-flat", s, "random[flat]", 300)),
            "r30": cells.get(("loo-prior", s, "random[prior+words]", 30)),
            "r100": cells.get(("loo-prior", s, "random[prior+words]", 100)),
            "r300": cells.get(("loo-prior", s, "random[prior+words]", 300)),
            "d30": cells.get(("loo-prior", s, "ed-pbrl-rounded[prior+words]", 30)),
            "d100": cells.get(("loo-prior", s, "ed-pbrl-rounded[prior+words]", 100)),
            "k30": cells.get(("loo-prior", s, "ed-pbrl[prior+words]", 30)),
            "k100": cells.get(("loo-prior", s, "ed-pbrl[prior+words]", 100)),
        }
        vals = [fmt(r) if r else "–" for r in get.values()]
        ratio = (
            f"{get['r30']['preference_error_mean'] / get['f300']['preference_error_mean']:.2f}"
            if get["r30"] and get["f300"]
            else "–"
        )
        rows.append(f"| {s} | " + " | ".join(vals) + f" | {ratio} |")
    if not rows:
        return ""
    head = (
        "| style | flat random @30 | flat random @300 | prior random @30 | prior random @100 "
        "| prior random @300 | prior rounded @30 | prior rounded @100 | prior K-policy @30 "
        "| prior K-policy @100 | ratio @30 / flat @300 |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(rows)


def ceiling_table() -> str:
    """One row per (setting, style) of docs/results/prior/ceiling/*.json: the oracle's questions,
    its variance T and random's, and the random questions for the same T (their ratio)."""
    lines = []
    for f in sorted((ROOT / "ceiling").glob("*.json")):
        for r in json.load(open(f))["results"]:
            knows = f"{r.get('knows', 'truth')}/{r.get('features', 'real')}/{r.get('target', 'test')}"
            cells = [
                f"{q}: {need / q:.2f}×" for q, need in zip(r["questions"], r["random_questions_for_oracle"])
            ]
            lines.append(f"| {f.stem} | {knows} | {r['style']} | " + " | ".join(cells) + " |")
    if not lines:
        return ""
    head = "| setting | oracle knows θ / features / target | style | @30 | @100 | @300 |\n" + "|---" * 6 + "|"
    return head + "\n" + "\n".join(lines)


def paired_table(exp: str, method: str, baseline: str) -> str:
    """``method`` against ``baseline`` run on the same seeds in experiment ``exp``: per style and
    budget both means and the paired difference (mean ± s.e. over seeds) of the preference error."""
    f = ROOT / exp / "merged" / "results.json"
    if not f.exists():
        return ""
    runs = {}
    for r in json.load(open(f))["runs"]:
        runs[(r["style"], r["method"], int(r["questions"]), r["seed"])] = r["preference_error"]
    lines = [
        f"| style | questions | seeds | {method} | {baseline} | difference (paired) |",
        "|---|---|---|---|---|---|",
    ]
    for st, q in sorted({(k[0], k[2]) for k in runs}):
        seeds = sorted(k[3] for k in runs if k[:3] == (st, method, q) and (st, baseline, q, k[3]) in runs)
        if len(seeds) < 2:
            continue
        a = [runs[(st, method, q, sd)] for sd in seeds]
        b = [runs[(st, baseline, q, sd)] for sd in seeds]
        d = [x - y for x, y in zip(a, b)]
        n = len(d)
        mean = sum(d) / n
        se = (sum((x - mean) ** 2 for x in d) / (n - 1) / n) ** 0.5
        lines.append(f"| {st} | {q} | {n} | {sum(a) / n:.3f} | {sum(b) / n:.3f} | {mean:+.3f} ± {se:.3f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def pooled_table(exps, method: str, baseline: str) -> str:
    """``method`` against ``baseline`` pooled over every (style, seed) of the experiments ``exps``:
    per budget the mean of each simulated person's ratio of errors minus 1 (in %), ± its standard
    error over the people, and how many styles had the method's mean lower."""
    runs = {}
    for exp in exps:
        f = ROOT / exp / "merged" / "results.json"
        if not f.exists():
            continue
        for r in json.load(open(f))["runs"]:
            runs[(exp, r["style"], r["method"], int(r["questions"]), r["seed"])] = r["preference_error"]
    lines = [
        "| questions | people (styles × seeds) | styles | change (per-person ratio − 1) | styles lower |"
    ]
    lines.append("|---|---|---|---|---|")
    for q in sorted({k[3] for k in runs}):
        ratios, by_style = [], {}
        for (exp, st, m, qq, sd), a in runs.items():
            b = runs.get((exp, st, baseline, qq, sd))
            if m != method or qq != q or b is None:
                continue
            ratios.append(a / b - 1)
            by_style.setdefault((exp, st), []).append(a - b)
        n = len(ratios)
        if n < 2:
            continue
        mean = sum(ratios) / n
        se = (sum((x - mean) ** 2 for x in ratios) / (n - 1) / n) ** 0.5
        lower = sum(sum(d) < 0 for d in by_style.values())
        change = f"{100 * mean:+.1f} ± {100 * se:.1f} %"
        lines.append(f"| {q} | {n} | {len(by_style)} | {change} | {lower} of {len(by_style)} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def evidence_runs() -> dict:
    """{run: {style: ceiling result}} for the evidence runs of ceiling.sh that exist."""
    runs = {}
    for name in ("knows-prior", "risk-oracle", "beta30"):
        f = ROOT / "ceiling" / f"evidence-{name}.json"
        if f.exists():
            runs[name] = {r["style"]: r for r in json.load(open(f))["results"]}
    return runs


def evidence_table() -> str:
    """Per style: the person's departure distance, and the nats about it that random questions, the
    variance oracle (a design's knowledge) and the risk oracle (knows the departure) collect."""
    runs = evidence_runs()
    if not {"knows-prior", "risk-oracle"} <= set(runs):
        return ""
    var, risk = runs["knows-prior"], runs["risk-oracle"]
    lines = [
        "| style | departure (θ−m)ᵀP(θ−m)/d | random @30 / @100 / @300 | variance oracle | risk oracle |",
        "|---|---|---|---|---|",
    ]
    for st, r in var.items():
        o = risk.get(st)
        cells = [" / ".join(f"{v:.1f}" for v in x) for x in (r["random_evidence"], r["oracle_evidence"])]
        cells.append(" / ".join(f"{v:.1f}" for v in o["oracle_evidence"]) if o else "–")
        lines.append(f"| {st} | {r['departure_distance']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def system_rows(cells, flat_exp: str, exp_methods, cell) -> list[str]:
    """Table rows of the issue's system ratio: per style of ``flat_exp`` and (experiment, method),
    the error at 30 questions against flat random's at 300 (``cell`` formats each error)."""
    rows = []
    for st in sorted({k[1] for k in cells if k[0] == flat_exp}):
        f300 = cells.get((flat_exp, st, "random[flat]", 300))
        if not f300:
            continue
        for e, m in exp_methods:
            r30 = cells.get((e, st, m, 30))
            if r30:
                ratio = r30["preference_error_mean"] / f300["preference_error_mean"]
                rows.append(f"| {st} | {m} | {cell(r30)} | {cell(f300)} | {ratio:.2f} |")
    return rows


def main() -> None:
    cells = load()
    out = []
    main_methods = [
        ("flat", "random[flat]"),
        ("prior", "random[prior+words]"),
        ("prior", "ed-pbrl-rounded[prior+words]"),
        ("prior", "ed-pbrl[prior+words]"),
        ("info-gain", "info-gain[prior+words]"),
        ("score-gain", "score-gain[prior+words]"),
        ("score-gain-encoded", "score-gain-encoded[prior+words]"),
    ]
    for metric in ("preference_error", "cosine_error", "choice_accuracy"):
        out.append(
            f"### {metric.replace('_', ' ')} (mean over 20 seeds; s.e. in results.json), by questions\n"
        )
        out.append(table(cells, main_methods, (30, 100, 300), metric) + "\n")
    checks = system_rows(cells, "flat", main_methods[1:], lambda r: f"{r['preference_error_mean']:.3f}")
    out.append("### System target: error at 30 questions against flat random at 300 (≤ 0.5 asked)\n")
    out.append(
        "| style | method | @30 | flat random @300 | ratio |\n|---|---|---|---|---|\n"
        + "\n".join(checks)
        + "\n"
    )
    for exp, title in (
        ("orthogonal", "a person unlike the population (population-mean direction removed)"),
        ("misleading", "misleading words"),
        ("other-model", "a person judging with another text model"),
    ):
        rows = {k: v for k, v in cells.items() if k[0].startswith(exp)}
        if rows:
            out.append(f"### {title}\n")
            out.append(
                "| experiment | style | method | questions | preference error | choice accuracy |\n"
                "|---|---|---|---|---|---|"
            )
            for (e, s, m, q), r in sorted(rows.items()):
                out.append(f"| {e} | {s} | {m} | {q} | {fmt(r)} | {fmt(r, 'choice_accuracy')} |")
            out.append("")
    width = [
        (e, m)
        for e in ("prior", "info-gain", "floor-0.0007", "floor-0.0015")
        for m in sorted(
            {k[2] for k in cells if k[0] == e and (k[2].startswith("random") or k[2].startswith("info-gain"))}
        )
    ]
    if any(e.startswith("floor") for e, _ in width):
        out.append(
            "### The prior's width: isotropic variance as fitted (2.3e-4) or raised (preference error)\n"
        )
        out.append(table(cells, width, (30, 100)) + "\n")
    mapped = [
        ("prior", "random[prior+words]"),
        ("map", "random[prior+mapped-words]"),
        ("info-gain", "info-gain[prior+words]"),
        ("map", "info-gain[prior+mapped-words]"),
    ]
    if any(k[0] == "map" for k in cells):
        out.append("### The learned words map (opt-in) on the paper's styles (preference error)\n")
        out.append(table(cells, mapped, (30, 100, 300)) + "\n")
    loo_map = sorted({k[1] for k in cells if k[0] == "loo-map"})
    if loo_map:
        out.append(
            "### The learned words map on the packaged styles, each left out (random questions; "
            "preference error ± s.e.)\n"
        )
        out.append(
            "| style | two weights @30 | map @30 | two weights @300 | map @300 | map @30 ÷ flat @300 |"
        )
        out.append("|---|---|---|---|---|---|")
        for st in loo_map:
            two30 = cells.get(("loo-prior", st, "random[prior+words]", 30))
            map30 = cells.get(("loo-map", st, "random[prior+mapped-words]", 30))
            two300 = cells.get(("loo-prior", st, "random[prior+words]", 300))
            map300 = cells.get(("loo-map", st, "random[prior+mapped-words]", 300))
            f300 = cells.get(("loo-flat", st, "random[flat]", 300))
            if all((two30, map30, two300, map300, f300)):
                ratio = map30["preference_error_mean"] / f300["preference_error_mean"]
                out.append(
                    f"| {st} | {fmt(two30)} | {fmt(map30)} | {fmt(two300)} | {fmt(map300)} | {ratio:.2f} |"
                )
        out.append("")
    for exp, method, who in (
        ("risk-gain-encoded", "risk-gain-encoded", "the paper's styles"),
        ("loo-risk-gain-encoded", "risk-gain-encoded", "packaged, left out"),
        ("loo-risk-gain-encoded-more", "risk-gain-encoded", "three more packaged, left out"),
        ("loo-risk-gain-encoded-rest", "risk-gain-encoded", "the last four packaged, left out"),
        ("risk-gain-spread4", "risk-gain-encoded:spread=4", "the paper's styles, belief widened 4×"),
    ):
        paired = paired_table(exp, f"{method}[prior+words]", "random[prior+words]")
        if paired:
            out.append(
                f"### {method} against random questions on the same seeds (20–39; {who}; preference error)\n"
            )
            out.append(paired + "\n")
    beta30 = [
        ("beta30-flat", "random[flat]"),
        ("beta30-risk", "random[prior+words]"),
        ("beta30-risk", "risk-gain-encoded[prior+words]"),
    ]
    if any(k[0].startswith("beta30") for k in cells):
        out.append("### People three times as decisive (β = 30; seeds 20–39; preference error)\n")
        out.append(table(cells, beta30, (30, 100, 300)) + "\n")
        ratios = ["| style | method | @30 | flat random @300 | ratio |", "|---|---|---|---|---|"]
        ratios += system_rows(cells, "beta30-flat", beta30[1:], fmt)
        out.append("\n".join(ratios) + "\n")
        paired = paired_table("beta30-risk", "risk-gain-encoded[prior+words]", "random[prior+words]")
        if paired:
            out.append("risk-gain-encoded against random questions on the same seeds (β = 30):\n")
            out.append(paired + "\n")
    risk_exps = (
        "risk-gain-encoded",
        "loo-risk-gain-encoded",
        "loo-risk-gain-encoded-more",
        "loo-risk-gain-encoded-rest",
    )
    pooled = pooled_table(risk_exps, "risk-gain-encoded[prior+words]", "random[prior+words]")
    if pooled:
        out.append(
            "### risk-gain-encoded against random questions, pooled over every style and seed (20–39)\n"
        )
        out.append(pooled + "\n")
    evidence = evidence_table()
    if evidence:
        out.append(
            "### Nats the answers carry about where the person departs from the prior (expected "
            "log-likelihood ratio, θ against the prior's mean)\n"
        )
        out.append(evidence + "\n")
    ceiling = ceiling_table()
    if ceiling:
        out.append(
            "### The oracle bound: random questions needed to match an oracle's posterior test-score "
            "variance (ratio to the oracle's questions)\n"
        )
        out.append(ceiling + "\n")
    loo = loo_table(cells)
    if loo:
        out.append("### The packaged styles, each left out of the prior (preference error, ± s.e.)\n")
        out.append(loo + "\n")
    text = "\n".join(out)
    (ROOT / "summary.md").write_text(text + "\n")
    print(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        styles = sorted({k[1] for k in cells if k[0] in ("flat", "prior")})
        fig, axes = plt.subplots(1, len(styles), figsize=(5 * len(styles), 4), squeeze=False)
        for ax, s in zip(axes[0], styles):
            for e, m in main_methods:
                pts = sorted((q, r) for (ee, ss, mm, q), r in cells.items() if (ee, ss, mm) == (e, s, m))
                if pts:
                    ax.errorbar(
                        [q for q, _ in pts],
                        [r["preference_error_mean"] for _, r in pts],
                        yerr=[r["preference_error_se"] for _, r in pts],
                        marker="o",
                        label=m,
                        capsize=3,
                    )
            ax.set_xscale("log")
            ax.set_title(s)
            ax.set_xlabel("questions")
            ax.set_ylabel("preference error")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(ROOT / "preference_error.png", dpi=100)
        plot_evidence(plt)
    except ImportError:
        pass


def plot_evidence(plt) -> None:
    """evidence.png: nats the answers carry about the person against the prior's guess, by
    questions — random, the variance oracle and the risk oracle; the paper's styles, the packaged
    ones left out (median, min–max band) and, where run, the same people at β = 30 (random)."""
    runs = evidence_runs()
    if "knows-prior" not in runs:
        return
    var = runs["knows-prior"]
    paper = [s for s in var if s.startswith("paper:")]
    packaged = [s for s in var if not s.startswith("paper:")]
    series = [
        ("random", "knows-prior", "random_evidence"),
        ("variance oracle", "knows-prior", "oracle_evidence"),
    ]
    series += [("risk oracle (knows the departure)", "risk-oracle", "oracle_evidence")]
    series += [("random, β = 30 (3 of the packaged styles)", "beta30", "random_evidence")]
    fig, axes = plt.subplots(1, 1 + len(paper), figsize=(4.2 * (1 + len(paper)), 3.8), sharey=True)
    groups = [("packaged styles, left out (median, range)", packaged)] + [(s, [s]) for s in paper]
    for ax, (title, styles) in zip(axes, groups):
        for label, run, key in series:
            rows = [runs[run][s] for s in styles if run in runs and s in runs[run]]
            if not rows:
                continue
            q = rows[0]["questions"]
            vals = list(zip(*[r[key] for r in rows]))  # per budget: the styles' values
            mid = [sorted(v)[len(v) // 2] for v in vals]
            line = ax.plot(q, mid, marker="o", label=label)[0]
            if len(rows) > 1:
                ax.fill_between(
                    q, [min(v) for v in vals], [max(v) for v in vals], alpha=0.15, color=line.get_color()
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([30, 100, 300], ["30", "100", "300"])
        ax.minorticks_off()
        ax.set_title(title.replace("paper:", "paper: "), fontsize=10)
        ax.set_xlabel("questions")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("nats about the person vs the prior's guess")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ROOT / "evidence.png", dpi=100)


if __name__ == "__main__":
    main()
