"""Option blocks shared by several commands, built from the registries (never hand-typed lists),
and small output helpers."""

from __future__ import annotations

import argparse
import json
import sys

from ..design.criteria import CRITERIA
from ..embed import spec_usage
from ..errors import EdpbrlError
from ..experiments.parallel import BACKENDS
from ..experiments.protocol import PROTOCOLS
from ..experiments.simulate import VOCAB_MODES, WORLDS, SimConfig
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
    """The packaged vocabulary when ``path`` is None, the paper's for "paper", else a directory or
    YAML (deduplicated)."""
    from ..data import resolve_vocabulary
    from ..vocab import Vocabulary

    path = resolve_vocabulary(path)
    return Vocabulary.default() if path is None else Vocabulary.load(path, dedupe=True)


def embedder_help(what: str = "text encoder") -> str:
    return f"{what}: {spec_usage()} (default minilm)"


def add_model_options(
    p: argparse.ArgumentParser, *, lam: float = 1.0, k: bool = True, protocol: bool = False
) -> None:
    """--vocab, --embedder, --lam (and --k): what the learner is built on. With ``protocol``,
    --lam/--k/--vocab default to the chosen protocol's (see :func:`add_protocol_options`)."""
    dflt = "the protocol's, else " if protocol else ""
    p.add_argument(
        "--vocab",
        help=f"vocabulary: directory of slot files, YAML, or 'paper' (default: {dflt}the packaged one)",
    )
    p.add_argument("--embedder", default="minilm", help=embedder_help())
    p.add_argument(
        "--lam",
        type=float,
        default=None if protocol else lam,
        help=f"regulariser λ > 0 (default {dflt}{lam:g})",
    )
    if k:
        p.add_argument(
            "--k", type=int, default=None if protocol else 4, help=f"options per question K (default {dflt}4)"
        )


def add_criterion_option(
    p: argparse.ArgumentParser, *, repeatable: bool = False, protocol: bool = False
) -> None:
    if repeatable:
        p.add_argument(
            "--criterion", action="append", choices=list(CRITERIA), help="design criteria; repeatable"
        )
    else:
        p.add_argument(
            "--criterion",
            default=None if protocol else "A",
            choices=list(CRITERIA),
            help=f"design criterion (default {'the protocol’s, else ' if protocol else ''}A)",
        )


def add_method_option(
    p: argparse.ArgumentParser, *, repeatable: bool = True, default: str | None = None, required: bool = True
) -> None:
    names = STRATEGIES.names()
    if repeatable:
        p.add_argument(
            "--method",
            action="append",
            required=required,
            choices=names,
            help="query strategy; repeatable" + ("" if required else " (default: the protocol's)"),
        )
    else:
        p.add_argument("--method", default=default, choices=names, help=f"query strategy (default {default})")


def add_simulation_options(
    p: argparse.ArgumentParser, *, criterion: bool = True, rationality: bool = True, protocol: bool = False
) -> None:
    """The simulated-user block: --criterion, --rationality, --feedback, --world (with
    ``protocol``: defaults from the chosen protocol, and --protocol, --vocab-mode)."""
    dflt = "the protocol's, else " if protocol else ""
    if criterion:
        add_criterion_option(p, protocol=protocol)
    if rationality:
        p.add_argument(
            "--rationality",
            type=float,
            default=None if protocol else 10.0,
            help=f"user inverse temperature β (default {dflt}10)",
        )
    if protocol:
        add_protocol_options(p)
    p.add_argument(
        "--feedback",
        default=None if protocol else FEEDBACK[0],
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


def add_protocol_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--protocol",
        choices=list(PROTOCOLS),
        help=f"an experimental preset ({PROTOCOLS.describe()}); explicit options override it",
    )
    p.add_argument(
        "--vocab-mode",
        choices=list(VOCAB_MODES),
        help="per-slot: every slot its own words; pooled: the paper's pooled vocabulary with blank "
        "(default: the protocol's, else per-slot)",
    )


_SIM_FIELDS = ("k", "rationality", "lam", "criterion", "vocab", "embedder", "feedback", "world", "vocab_mode")


def sim_config(a: argparse.Namespace) -> SimConfig:
    """The :class:`SimConfig` of parsed options: the protocol's (if ``--protocol``) with every
    option given explicitly on top; fields a command lacks keep their defaults (repeatable options
    such as a list of β are left to the command)."""
    given = {n: getattr(a, n) for n in _SIM_FIELDS if isinstance(getattr(a, n, None), str | int | float)}
    proto = getattr(a, "protocol", None)
    return PROTOCOLS.get(proto).config(**given) if proto else SimConfig(**given)


def run_grid(a: argparse.Namespace) -> tuple[list[str], list[str], list[int], int]:
    """(styles, methods, budgets, seeds) of a simulation command: the options given, else the
    protocol's defaults; without a protocol --style, --method and --episodes are required."""
    proto = PROTOCOLS.get(a.protocol) if getattr(a, "protocol", None) else None
    defaults = {"style": proto.styles, "method": proto.methods, "episodes": proto.budgets} if proto else {}
    out = []
    for name in ("style", "method", "episodes"):
        value = getattr(a, name)
        if not value:
            if proto is None:
                raise EdpbrlError(f"--{name} is required (or give --protocol for its defaults)")
            value = defaults[name]
        out.append(list(value))
    seeds = a.seeds if a.seeds is not None else (proto.seeds if proto else 5)
    return out[0], out[1], out[2], seeds
