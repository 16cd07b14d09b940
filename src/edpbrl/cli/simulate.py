"""``edpbrl simulate``: methods against simulated users (``edpbrl demo`` is :mod:`.demo`)."""

from __future__ import annotations

import json

from .options import (
    add_json_option,
    add_method_option,
    add_model_options,
    add_out_option,
    add_parallel_options,
    add_simulation_options,
    check_out,
    parallel_kwargs,
    positive_int,
    print_json,
    run_grid,
    sim_config,
)


def cmd_simulate(a) -> int:
    from ..experiments.simulate import simulate

    out = check_out(a.out, force=a.force, stdout="use --json to print the results")
    styles, methods, budgets, seeds = run_grid(a)
    res = simulate(styles, methods, budgets, seeds, sim_config(a), **parallel_kwargs(a))
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


def add_parsers(sub) -> None:
    s = sub.add_parser("simulate", help="run methods against simulated users and report errors")
    add_model_options(s, protocol=True)
    add_simulation_options(s, protocol=True)
    s.add_argument(
        "--style",
        action="append",
        help="style sentences file (one per line), packaged style name or paper:NAME; repeatable",
    )
    add_method_option(s, required=False)
    s.add_argument(
        "--episodes",
        type=positive_int,
        action="append",
        help="budget in episodes; repeatable (all evaluated in one run)",
    )
    s.add_argument("--seeds", type=positive_int, help="seeds per method (default: the protocol's, else 5)")
    add_parallel_options(s)
    add_out_option(s, "also write results and per-seed runs as JSON here")
    add_json_option(s, 'print JSON {"results": [...]}')
    s.set_defaults(fn=cmd_simulate)
