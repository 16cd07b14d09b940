"""Option blocks shared by several commands, built from the registries (never hand-typed lists),
and small output helpers."""

from __future__ import annotations

import argparse
import json
import sys

from ..design.criteria import CRITERIA
from ..embed import spec_usage
from ..experiments.parallel import BACKENDS
from ..experiments.simulate import WORLDS, SimConfig
from ..personalizer import FEEDBACK
from ..strategies import STRATEGIES


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=float))


def tqdm_progress(desc: str):
    """(bar, callback) — ``callback(done, total, message)`` drives a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="it", leave=False, file=sys.stderr)

    def cb(i: int, total: int, msg: str) -> None:
        bar.total = total
        bar.n = i
        bar.set_postfix_str(msg)
        bar.refresh()

    return bar, cb


def load_vocabulary(path):
    """The packaged vocabulary when ``path`` is None, else a directory or YAML (deduplicated)."""
    from ..vocab import Vocabulary

    return Vocabulary.default() if path is None else Vocabulary.load(path, dedupe=True)


def embedder_help(what: str = "text encoder") -> str:
    return f"{what}: {spec_usage()} (default minilm)"


def add_model_options(p: argparse.ArgumentParser, *, lam: float = 1.0, k: bool = True) -> None:
    """--vocab, --embedder, --lam (and --k): what the learner is built on."""
    p.add_argument("--vocab", help="vocabulary: directory of slot files or YAML (default: the packaged one)")
    p.add_argument("--embedder", default="minilm", help=embedder_help())
    p.add_argument("--lam", type=float, default=lam, help=f"regulariser λ > 0 (default {lam:g})")
    if k:
        p.add_argument("--k", type=int, default=4, help="options per question K (default 4)")


def add_criterion_option(p: argparse.ArgumentParser, *, repeatable: bool = False) -> None:
    if repeatable:
        p.add_argument(
            "--criterion", action="append", choices=list(CRITERIA), help="design criteria; repeatable"
        )
    else:
        p.add_argument(
            "--criterion", default="A", choices=list(CRITERIA), help="design criterion (default A)"
        )


def add_method_option(
    p: argparse.ArgumentParser, *, repeatable: bool = True, default: str | None = None
) -> None:
    names = STRATEGIES.names()
    if repeatable:
        p.add_argument(
            "--method", action="append", required=True, choices=names, help="query strategy; repeatable"
        )
    else:
        p.add_argument("--method", default=default, choices=names, help=f"query strategy (default {default})")


def add_simulation_options(
    p: argparse.ArgumentParser, *, criterion: bool = True, rationality: bool = True
) -> None:
    """The simulated-user block: --criterion, --rationality, --feedback, --world."""
    if criterion:
        add_criterion_option(p)
    if rationality:
        p.add_argument(
            "--rationality", type=float, default=10.0, help="user inverse temperature β (default 10)"
        )
    p.add_argument(
        "--feedback",
        default=FEEDBACK[0],
        choices=list(FEEDBACK),
        help="dense: one question per slot over prefixes (the paper); final: one per episode",
    )
    p.add_argument(
        "--world",
        default=WORLDS[0],
        choices=list(WORLDS),
        help="embedding: options embedded whole (the paper); additive: an option's features are the "
        "sum of its tokens' (well-specified control); misspecified: the user judges whole texts, "
        "the learner sees token sums",
    )


def add_parallel_options(p: argparse.ArgumentParser) -> None:
    """--workers, --backend, --address, --no-progress: where the runs go (see parallel_kwargs)."""
    p.add_argument(
        "--workers", type=int, default=1, help="parallel processes (or local Ray CPUs) over seeds (default 1)"
    )
    p.add_argument(
        "--backend",
        default=BACKENDS[0],
        choices=list(BACKENDS),
        help="process: a local process pool; ray: Ray tasks (needs the 'ray' extra; the same results)",
    )
    p.add_argument(
        "--address", help="with --backend ray: the Ray cluster to use (default: start a local Ray)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def parallel_kwargs(a: argparse.Namespace) -> dict:
    """The keyword arguments of the parallel options for simulate / run_curves / run_sweep."""
    return {
        "workers": a.workers,
        "backend": a.backend,
        "address": a.address,
        "progress": not a.no_progress,
    }


def add_json_option(p: argparse.ArgumentParser, what: str = "print JSON") -> None:
    p.add_argument("--json", action="store_true", help=what)


def sim_config(a: argparse.Namespace) -> SimConfig:
    """The :class:`SimConfig` of parsed options (fields a command lacks keep their defaults;
    repeatable options such as a list of β are left to the command)."""
    names = ("k", "rationality", "lam", "criterion", "vocab", "embedder", "feedback", "world")
    return SimConfig(
        **{n: getattr(a, n) for n in names if isinstance(getattr(a, n, None), str | int | float)}
    )
