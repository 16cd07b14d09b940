"""``edpbrl design`` (solve and print a design with its certificate) and ``edpbrl bench design``."""

from __future__ import annotations

import json

from ..design.criteria import CRITERIA
from ..design.solvers import solver_choices
from .options import (
    add_criterion_option,
    add_json_option,
    add_model_options,
    add_out_option,
    check_out,
    int_range,
    load_vocabulary,
    positive_float,
    positive_int,
    print_json,
    progress_bar,
)


def cmd_design(a) -> int:
    import torch

    from ..design.kpolicy import kpolicy_design
    from ..design.solvers import solve_design
    from ..device import check_device
    from ..embed import load_embedder
    from ..errors import DesignError
    from ..mdp import PromptMDP

    out_path = check_out(
        a.out,
        force=a.force,
        companions=[".pt"],
        stdout="the design is a JSON file plus a .pt file; use --json",
    )
    device = check_device(a.device)
    if not a.lam > 0:
        raise DesignError(f"λ must be > 0, got {a.lam}")
    vocab = load_vocabulary(a.vocab)
    mdp = PromptMDP.from_embedder(vocab, load_embedder(a.embedder, device=device), device=device)
    common = dict(criterion=a.criterion, episodes=a.episodes, lam=a.lam, tol=a.tol, max_iter=a.max_iter)
    with progress_bar("design", disable=a.verbose) as cb:
        common.update(device=device, verbose=a.verbose, progress=None if a.verbose else cb)
        if a.design == "kpolicy":
            design = kpolicy_design(mdp, k=a.k, **common)
        else:
            design = solve_design(mdp, solver=a.solver, **common)
    cert = design.certificate.to_dict()
    out = {"design": a.design, "certificate": cert, "slots": mdp.describe_weights(design.weights, top=a.top)}
    if a.design == "kpolicy":
        out["policies"] = [mdp.describe_weights(design.policies[q], top=a.top) for q in range(design.k)]
    if out_path is not None:
        weights = {s.name: design.step_weights(h).cpu().tolist() for h, s in enumerate(vocab.slots)}
        out_path.write_text(json.dumps({**out, "weights": weights}))
        torch.save(design.weights.cpu(), out_path.with_suffix(".pt"))
    if a.json:
        print_json(out)
        return 0
    print(
        f"{cert['solver']}: {a.criterion}-criterion objective {cert['objective']:.6g}, "
        f"FW gap {cert['gap']:.3g} (relative {cert['relative_gap']:.2e}), "
        f"{cert['iterations']} iterations, {cert['seconds']:.2f} s, "
        f"{'converged' if cert['converged'] else 'NOT converged'}"
    )
    if cert["optimality"] == "stationary":
        print(
            f"  not jointly concave: the gap certifies stationarity; the global optimum is at most "
            f"{cert['upper_bound']:.6g} (within {cert['bound_gap']:.3g} of this design)"
        )
    blocks = [("mixture", out["slots"])] + [
        (f"policy {q + 1}", p) for q, p in enumerate(out.get("policies", []))
    ]
    for label, slots in blocks if a.design == "kpolicy" else blocks[:1]:
        if a.design == "kpolicy":
            print(f" {label}:")
        for s in slots:
            tops = ", ".join(f"{t} ({w:.3f})" for t, w in s["top"][:5])
            print(f"  {s['slot']:<14} support {s['support']:>4}: {tops}")
    return 0


def cmd_bench_design(a) -> int:
    from ..device import check_device
    from ..experiments.bench_design import run

    check_device(a.device)
    with progress_bar("bench design", disable=a.verbose or a.json) as cb:
        res = run(
            slots=a.slots,
            words=a.words,
            dim=a.dim,
            k=a.k,
            features=a.features,
            criterion=a.criterion,
            episodes=a.episodes,
            lam=a.lam,
            tol=a.tol,
            device=a.device,
            dtype=a.dtype,
            solver=a.solver,
            max_iter=a.max_iter,
            verbose=a.verbose,
            progress=None if (a.verbose or a.json) else cb,
            compare=a.compare,
            design=a.design,
        )
    if a.json:
        print_json(res)
    else:
        print(
            f"{res['solver']} on {res['device']} ({res['dtype']}): {res['seconds']:.2f} s, "
            f"{res['iterations']} iterations, gap {res['gap']:.3g}, relative gap "
            f"{res['relative_gap']:.2e}, objective {res['objective']:.6g}"
        )
    return 0


def _design_option(p, default: str) -> None:
    p.add_argument(
        "--design",
        default=default,
        choices=["kpolicy", "mixture"],
        help="kpolicy: the paper's K jointly designed policies (--k of them); mixture: one mixture "
        f"visitation, the concave relaxation (default {default})",
    )


def _solver_options(p, max_iter: int = 5000) -> None:
    p.add_argument(
        "--solver",
        default="auto",
        choices=solver_choices(),
        help="design solver (auto: simplex, the active-set Newton solver, for prompt MDPs)",
    )
    p.add_argument(
        "--tol", type=positive_float, default=1e-4, help="stop at this relative FW gap > 0 (default 1e-4)"
    )
    p.add_argument(
        "--max-iter", type=positive_int, default=max_iter, help=f"iteration limit (default {max_iter})"
    )
    p.add_argument("--verbose", action="store_true", help="print objective and gap per iteration")


def add_parsers(sub) -> None:
    d = sub.add_parser("design", help="solve a design and print it with its certificate")
    add_model_options(d)
    add_criterion_option(d)
    _design_option(d, default="kpolicy")
    d.add_argument("--episodes", type=positive_int, default=50, help="number of episodes T (default 50)")
    _solver_options(d)
    d.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1 ...")
    d.add_argument("--top", type=positive_int, default=10, help="tokens to list per slot")
    add_out_option(
        d, "write the full design (weights per slot) as JSON here, and the weights as .pt beside it"
    )
    add_json_option(d)
    d.set_defaults(fn=cmd_design)


def add_bench_parser(bsub) -> None:
    """``edpbrl bench design`` (the ``bench`` group lives in :mod:`.bench`)."""
    bd = bsub.add_parser("design", help="time to a certified design on a realistic instance")
    bd.add_argument("--slots", type=positive_int, default=6, help="number of slots H (default 6)")
    bd.add_argument("--words", type=int_range(2), default=2500, help="words per slot, ≥ 2 (default 2500)")
    bd.add_argument("--dim", type=positive_int, default=768, help="feature dimension d (default 768)")
    bd.add_argument(
        "--k", type=int_range(2), default=4, help="options per question K (the K-policy design's K)"
    )
    bd.add_argument(
        "--features",
        default="random",
        choices=["random", "default-vocab", "paper"],
        help="random: anisotropic synthetic features; default-vocab: the packaged vocabulary (MiniLM); "
        "paper: the paper protocol's pooled vocabulary (MiniLM; after `edpbrl data paper`)",
    )
    bd.add_argument("--criterion", default="A", choices=list(CRITERIA), help="design criterion (default A)")
    _design_option(bd, default="mixture")
    bd.add_argument("--episodes", type=positive_int, default=50, help="episodes T (default 50)")
    bd.add_argument("--lam", type=positive_float, default=0.1, help="regulariser λ > 0 (default 0.1)")
    _solver_options(bd)
    bd.add_argument("--device", default="cpu", help="torch device: cpu or cuda (default cpu)")
    bd.add_argument(
        "--dtype", default="float32", choices=["float32", "float64"], help="precision (default float32)"
    )
    bd.add_argument(
        "--compare",
        action="store_true",
        help="also run multiplicative and pairwise Frank-Wolfe for the same wall time",
    )
    add_json_option(bd)
    bd.set_defaults(fn=cmd_bench_design)
