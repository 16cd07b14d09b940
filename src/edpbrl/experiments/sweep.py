"""Sweep over the user's rationality β and the regulariser λ .

For every (β, λ) the simulation harness runs all methods at one budget; the result is a table of
cosine and preference error (mean ± s.e.) and a PNG with one panel per λ: error against β, one
line per method.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from .parallel import ray_session
from .simulate import SimConfig, simulate


def run_sweep(
    styles: Sequence[str],
    methods: Sequence[str],
    episodes: int,
    seeds: int,
    rationalities: Sequence[float],
    lams: Sequence[float],
    base: SimConfig,
    workers: int = 1,
    progress: bool = True,
    backend: str = "process",
    address: str | None = None,
) -> list[dict]:
    """Rows {style, method, episodes, rationality, lam, *_mean, *_se} for every grid point
    (``backend``, ``address``: see :func:`~.simulate.simulate`; Ray starts once for the sweep)."""
    rows = []
    with ray_session(workers, address) if backend == "ray" else nullcontext():
        for lam in lams:
            for beta in rationalities:
                cfg = dataclasses.replace(base, rationality=float(beta), lam=float(lam))
                res = simulate(
                    styles,
                    methods,
                    [episodes],
                    seeds,
                    cfg,
                    workers=workers,
                    progress=progress,
                    backend=backend,
                    address=address,
                )
                for r in res["results"]:
                    rows.append({**r, "rationality": float(beta), "lam": float(lam)})
    return rows


def plot_sweep(rows: Sequence[dict], metric: str, path: str | Path) -> None:
    """One panel per λ: mean error (± s.e.) against rationality, one line per method (averaged
    over styles)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lams = sorted({r["lam"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(1, len(lams), figsize=(4.5 * len(lams), 3.6), squeeze=False)
    for ax, lam in zip(axes[0], lams):
        for m in methods:
            pts = {}
            for r in rows:
                if r["lam"] == lam and r["method"] == m:
                    pts.setdefault(r["rationality"], []).append((r[f"{metric}_mean"], r[f"{metric}_se"]))
            xs = sorted(pts)
            mean = np.array([np.mean([p[0] for p in pts[x]]) for x in xs])
            se = np.array([np.sqrt(np.mean([p[1] ** 2 for p in pts[x]])) for x in xs])
            ax.plot(xs, mean, marker="o", label=m)
            ax.fill_between(xs, mean - se, mean + se, alpha=0.2)
        ax.set_xscale("log")
        ax.set_xlabel("rationality β")
        ax.set_title(f"λ = {lam:g}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric.replace("_", " "))
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_sweep(rows: Sequence[dict], out: str | Path) -> None:
    from .report import write_csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"results": list(rows)}, indent=2))
    write_csv(rows, out / "sweep.csv")
    for metric in ("cosine_error", "preference_error"):
        plot_sweep(rows, metric, out / f"sweep_{metric}.png")


def sweep_markdown(rows: Sequence[dict], metric: str = "cosine_error") -> str:
    """Markdown: one row per (λ, β), one column per method (mean ± s.e., averaged over styles)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    grid = sorted({(r["lam"], r["rationality"]) for r in rows})
    lines = ["| λ | β | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for lam, beta in grid:
        cells = []
        for m in methods:
            rs = [r for r in rows if r["lam"] == lam and r["rationality"] == beta and r["method"] == m]
            mean = sum(r[f"{metric}_mean"] for r in rs) / len(rs)
            se = (sum(r[f"{metric}_se"] ** 2 for r in rs) / len(rs)) ** 0.5
            cells.append(f"{mean:.3f} ± {se:.3f}")
        lines.append(f"| {lam:g} | {beta:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
