"""The design benchmark: time to a certified relative FW gap on a realistic instance.

Instance: A-criterion, T = 50, λ = 0.1, H slots of n words in dimension d. Features are
anisotropic like real embeddings: coordinate i has standard deviation ∝ i^-0.8, plus a shared
mean direction, rows L2-normalised. ``--features default-vocab`` uses the real embedded default
vocabulary instead.
"""

from __future__ import annotations

import time

import torch

from ..device import check_device
from ..errors import EdpbrlError
from ..vocab import Vocabulary


def check_sizes(**sizes: tuple[int, int]) -> None:
    """One-line EdpbrlError unless every ``name=(value, minimum)`` is an integer ≥ its minimum."""
    for name, (value, low) in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise EdpbrlError(f"{name} must be an integer ≥ {low}, got {value!r}")


def anisotropic_features(
    H: int, n: int, d: int, seed: int = 0, mean_weight: float = 0.5
) -> tuple[Vocabulary, list[torch.Tensor]]:
    """H slots of n synthetic tokens; returns the vocabulary and H feature matrices (n, d)."""
    check_sizes(slots=(H, 1), words=(n, 2), dim=(d, 1))
    g = torch.Generator().manual_seed(seed)
    std = torch.arange(1, d + 1, dtype=torch.float64) ** -0.8
    mean = torch.randn(d, generator=g, dtype=torch.float64)
    mean = mean / mean.norm() * std.norm() * mean_weight
    feats = []
    for _ in range(H):
        X = torch.randn(n, d, generator=g, dtype=torch.float64) * std + mean
        feats.append(X / X.norm(dim=1, keepdim=True))
    vocab = Vocabulary({f"slot{h}": [f"w{h}_{i}" for i in range(n)] for h in range(H)})
    return vocab, feats


def run(
    *,
    slots: int = 6,
    words: int = 2500,
    dim: int = 768,
    k: int = 4,
    features: str = "random",
    criterion: str = "A",
    episodes: int = 50,
    lam: float = 0.1,
    tol: float = 1e-4,
    device: str = "cpu",
    dtype: str = "float32",
    solver: str = "auto",
    seed: int = 0,
    max_iter: int = 5000,
    verbose: bool = False,
    progress=None,
    compare: bool = False,
    design: str = "mixture",
) -> dict:
    """Solve the benchmark instance once (after a warm-up on the device) and report figures.

    ``design``: "mixture" (the concave mixture design, with ``solver``) or "kpolicy" (the paper's
    K-policy design; its figures include the stationarity gap and the relaxation's bound).
    ``features``: "random" (anisotropic synthetic), "default-vocab" (the packaged vocabulary with
    MiniLM) or "paper" (the paper protocol's pooled design vocabulary with MiniLM; needs
    ``edpbrl data paper``)."""
    from ..errors import EdpbrlError

    if design not in ("mixture", "kpolicy"):
        raise EdpbrlError(f"unknown design '{design}': mixture or kpolicy")
    from ..design.solvers import solve_design
    from ..mdp import PromptMDP

    device = check_device(device)
    check_sizes(k=(k, 2), episodes=(episodes, 1), max_iter=(max_iter, 1))
    if dtype not in ("float32", "float64"):
        raise EdpbrlError(f"dtype must be float32 or float64, got {dtype!r}")
    if features == "random":
        vocab, feats = anisotropic_features(slots, words, dim, seed)
    elif features in ("default-vocab", "paper"):
        from ..embed import load_embedder

        emb = load_embedder("minilm", device=device)
        if features == "paper":
            from ..data import resolve_vocabulary
            from .simulate import design_and_test

            vocab = design_and_test(Vocabulary.load(resolve_vocabulary("paper"), dedupe=True), "pooled")[0]
        else:
            vocab = Vocabulary.default()
        feats = [torch.as_tensor(emb.encode(list(s.entries)), dtype=torch.float64) for s in vocab.slots]
    else:
        raise EdpbrlError(f"unknown features '{features}': random, default-vocab or paper")
    tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    domain = PromptMDP(vocab, feats, device=device, dtype=tdtype)
    kw = dict(
        criterion=criterion,
        episodes=episodes,
        lam=lam,
        tol=tol,
        device=device,
        dtype=tdtype,
        solver=solver,
    )
    if design == "kpolicy":
        from ..design.kpolicy import kpolicy_design

        kw.pop("solver")
        solve = lambda **more: kpolicy_design(domain, k=k, **kw, **more)  # noqa: E731
    else:
        solve = lambda **more: solve_design(domain, **kw, **more)  # noqa: E731
    if device.startswith("cuda"):
        solve(max_iter=1)  # warm-up: kernels, cuBLAS handles
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    result = solve(max_iter=max_iter, verbose=verbose, progress=progress)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    c = result.certificate
    baselines = {}
    if (
        compare and design == "mixture"
    ):  # same instance, same process, same wall-clock budget as the solver above
        budget = max(seconds, 1.0)
        for name, extra_kw in (
            ("multiplicative", {"plain": True}),
            ("multiplicative", {}),
            ("frank-wolfe", {"variant": "pairwise"}),
        ):
            kw_b = {**kw, "solver": name}
            t1 = time.perf_counter()
            b = solve_design(domain, max_iter=10**6, max_seconds=budget, **kw_b, **extra_kw)
            bc = b.certificate
            baselines[bc.solver] = {
                "seconds": time.perf_counter() - t1,
                "iterations": bc.iterations,
                "relative_gap": bc.relative_gap,
                "objective": bc.objective,
                "gap_ratio_vs_solver": bc.relative_gap / max(c.relative_gap, 1e-300),
            }
    return {
        "seconds": seconds,
        "iterations": c.iterations,
        "gap": c.gap,
        "relative_gap": c.relative_gap,
        "objective": c.objective,
        "converged": c.converged,
        "solver": c.solver,
        "design": design,
        "optimality": c.optimality,
        "upper_bound": c.upper_bound,
        "relative_bound_gap": None if c.bound_gap is None else c.bound_gap / max(abs(c.objective), 1e-300),
        "features": features,
        "slots": len(vocab),
        "words": sum(vocab.sizes),
        "dim": domain.dim,
        "k": k,
        "criterion": criterion,
        "episodes": episodes,
        "lam": lam,
        "device": device,
        "dtype": dtype,
        "torch_threads": torch.get_num_threads(),
        **({"baselines_same_time": baselines} if compare else {}),
    }
