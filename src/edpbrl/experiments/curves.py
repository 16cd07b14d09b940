"""Error against the number of episodes for several methods (``edpbrl experiment curves``)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from .report import write_outputs
from .simulate import SimConfig, simulate


def run_curves(
    styles,
    methods,
    budgets,
    seeds,
    cfg: SimConfig,
    out: str | Path,
    workers: int = 1,
    progress=True,
    seed_offset: int = 0,
    backend: str = "process",
    address: str | None = None,
) -> dict:
    """Simulate and write results.json / results.csv / runs.csv / table.md / *.png into ``out``
    (``backend``, ``address``: see :func:`~.simulate.simulate`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    par = {"workers": workers, "progress": progress, "backend": backend, "address": address}
    res = simulate(styles, methods, budgets, seeds, cfg, seed_offset=seed_offset, **par)
    res["config"] = {
        **asdict(cfg),
        "styles": list(styles),
        "methods": list(methods),
        "budgets": sorted(budgets),
        "seeds": seeds,
        "seed_offset": seed_offset,
        "workers": workers,
        "backend": backend,
        "wall_seconds": time.perf_counter() - t0,
    }
    title = f"{cfg.embedder}, K={cfg.k}, β={cfg.rationality}, λ={cfg.lam}, {seeds} seeds"
    write_outputs(res, out, title)
    return res
