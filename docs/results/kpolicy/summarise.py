"""Tables of issue 8's experiments (run from the repository root after run.sh):

    python docs/results/kpolicy/summarise.py      # prints markdown, writes summary.md

Reads docs/results/kpolicy/*/merged/results.json: the paper's Figure 2/5 experiment under both
protocols (paper, ours) and the single-ingredient switches: the paper's protocol with one
ingredient switched to ours (paper-*) and ours with one switched to the paper's (ours-*)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path("docs/results/kpolicy")


def load(name: str) -> list[dict]:
    f = ROOT / name / "merged" / "results.json"
    return json.load(open(f))["results"] if f.is_file() else []


def metric_table(rows, metric, budgets=(10, 25, 50, 80)) -> str:
    styles = sorted({r["style"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["style"], r["method"], r["episodes"]): r for r in rows}
    cols = [(s, b) for s in styles for b in budgets]
    out = ["| method | " + " | ".join(f"{s} @{b}" for s, b in cols) + " |", "|---" * (1 + len(cols)) + "|"]
    for m in methods:
        vals = []
        for s, b in cols:
            r = cell.get((s, m, b))
            vals.append(f"{r[metric + '_mean']:.3f} ± {r[metric + '_se']:.3f}" if r else "–")
        out.append(f"| {m} | " + " | ".join(vals) + " |")
    return "\n".join(out)


def switch_table(names) -> str:
    """ed-pbrl − random at 80 episodes (preference error; negative: the design helps), per style."""
    out = ["| experiment | style | random @80 | ed-pbrl @80 | difference (± s.e.) |", "|---|---|---|---|---|"]
    for name in names:
        rows = load(name)
        cell = {(r["style"], r["method"], r["episodes"]): r for r in rows}
        for s in sorted({r["style"] for r in rows}):
            a, b = cell.get((s, "random", 80)), cell.get((s, "ed-pbrl", 80))
            if a and b:
                d = b["preference_error_mean"] - a["preference_error_mean"]
                se = (a["preference_error_se"] ** 2 + b["preference_error_se"] ** 2) ** 0.5
                out.append(
                    f"| {name} | {s} | {a['preference_error_mean']:.3f} | {b['preference_error_mean']:.3f} | "
                    f"{d:+.3f} ± {se:.3f} |"
                )
    return "\n".join(out)


def main() -> None:
    parts = []
    for name, title in (("paper", "the paper's protocol"), ("ours", "our protocol")):
        rows = load(name)
        if not rows:
            continue
        for metric in ("preference_error", "cosine_error"):
            parts.append(f"### {title}: {metric.replace('_', ' ')} (mean ± s.e., 20 seeds)\n")
            parts.append(metric_table(rows, metric) + "\n")
    switches = [
        "paper",
        "paper-rationality-10",
        "paper-vocab-mode-per-slot",
        "paper-criterion-A",
        "paper-lam-1",
        "ours",
        "ours-rationality-1",
        "ours-criterion-V",
        "ours-lam-0.1",
    ]
    parts.append("### One ingredient at a time: ed-pbrl (K-policy) against random at 80 episodes\n")
    parts.append(switch_table([n for n in switches if load(n)]) + "\n")
    text = "\n".join(parts)
    (ROOT / "summary.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
