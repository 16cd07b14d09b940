"""Option blocks shared by several commands, built from the registries (never hand-typed lists),
and small output helpers."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..design.criteria import CRITERIA
from ..embed import spec_usage
from ..errors import EdpbrlError
from ..experiments.parallel import BACKENDS
from ..experiments.protocol import PROTOCOLS
from ..experiments.simulate import VOCAB_MODES, WORLDS, SimConfig
from ..personalizer import FEEDBACK
from ..strategies.registry import MethodChoices, check_method


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other error of the command line:
    ``edpbrl design: error: argument --tol: must be > 0, got 0 (see: edpbrl design --help)``,
    exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "-1e-3" is a (negative) value, not an option; Python 3.13's argparse does the same
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=float))


# -- argument types: one-line messages for numbers out of range ------------------------------
def int_range(lo: int, hi: int | None = None, what: str = "an integer"):
    """An argparse type: an integer in lo..hi (hi None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"≥ {lo}" if hi is None else f"in {lo}..{hi}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def method_spec(text: str) -> str:
    """An argparse type: a registered method, optionally NAME:key=value,... with its options."""
    try:
        return check_method(text)
    except EdpbrlError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


positive_int = int_range(1, what="a positive integer")
port_number = int_range(1, 65535, what="a port number")


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """An argparse type: a finite number ≥ 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number ≥ 0, got {text}")
    return value


# -- output paths: checked before any computation ---------------------------------------------
STDOUT = "-"


def check_out(
    path: str | None,
    *,
    force: bool = False,
    directory: bool = False,
    companions: Sequence[str] = (),
    stdout: str | None = "writes files; give a path",
    option: str = "--out",
) -> Path | str | None:
    """Check an output path before the command computes anything; returns the Path (``"-"``
    for stdout, None when no path was given).

    A file must be in an existing directory, must not be a directory, and must not exist unless
    ``force``; ``companions`` are suffixes of files written beside it (``.pt``, ``.npy``), checked
    the same way. An output *directory* (``directory=True``) must be inside an existing directory,
    must not be a file, and must be empty unless ``force``. ``stdout``: None when ``-`` means
    standard output, else the reason it cannot (the error names it).
    """
    if path is None:
        return None
    if path == STDOUT:
        if stdout is None:
            return STDOUT
        raise EdpbrlError(f"{option} -: {stdout}")
    p = Path(path).expanduser()
    parent = p.resolve().parent
    if not parent.is_dir():
        raise EdpbrlError(f"{option} {path}: directory {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK):
        raise EdpbrlError(f"{option} {path}: directory {parent} is not writable")
    if directory:
        if p.exists() and not p.is_dir():
            raise EdpbrlError(f"{option} {path} is a file; give a directory for the outputs")
        if p.is_dir() and any(p.iterdir()) and not force:
            raise EdpbrlError(
                f"{option} {path} is a directory that is not empty; add --force to write into it"
            )
        return p
    targets = [p] + [p.with_suffix(sfx) for sfx in companions]
    if len(set(targets)) < len(targets):
        raise EdpbrlError(
            f"{option} {path}: this command also writes a {p.suffix} file beside it; "
            f"give a name with another suffix (e.g. {p.with_suffix('.json').name})"
        )
    for t in targets:
        if t.is_dir():
            raise EdpbrlError(f"{option} {t} is a directory; give a file name")
        if t.exists() and not force:
            raise EdpbrlError(f"{option} {t} exists; add --force to overwrite it")
    return p


def add_out_option(
    p: argparse.ArgumentParser, help: str, *, required: bool = False, metavar: str = "PATH"
) -> None:
    """--out and --force (overwrite an existing output)."""
    p.add_argument("--out", required=required, metavar=metavar, help=help)
    p.add_argument("--force", action="store_true", help="overwrite existing output files")


# -- progress ---------------------------------------------------------------------------------
@contextmanager
def progress_bar(desc: str, *, disable: bool = False, count: bool = True) -> Iterator:
    """A tqdm bar on stderr driven by the yielded ``callback(done, total, message)``.

    It shows iterations, elapsed time and the message (a solver's current gap), never an ETA: the
    ``total`` solvers report is an iteration *cap*, and a design that stops at its tolerance after
    3 of 5,000 iterations would show a 48-minute ETA. The bar is closed when the block ends, also
    on an error, so an error message never lands on an open bar. ``count=False`` shows only the
    message and the elapsed time (for callbacks whose counts restart per stage)."""
    from tqdm import tqdm

    fmt = None if count else "{desc} [{elapsed}]"
    bar = tqdm(
        desc=desc, unit="it", leave=False, file=sys.stderr, disable=disable, total=None, bar_format=fmt
    )

    def cb(i: int, total: int, msg: str) -> None:
        if count:
            bar.n = i
            bar.set_postfix_str(msg, refresh=False)
        else:
            bar.set_description_str(f"{desc}: {msg}", refresh=False)
        bar.refresh()

    try:
        yield cb
    finally:
        bar.close()


def load_vocabulary(path):
    """The packaged vocabulary when ``path`` is None, the paper's for "paper", else a directory or
    YAML (deduplicated)."""
    from ..data import resolve_vocabulary
    from ..vocab import Vocabulary

    path = resolve_vocabulary(path)
    return Vocabulary.default() if path is None else Vocabulary.load(path, dedupe=True)


def embedder_help(what: str = "text encoder", default: str = "minilm") -> str:
    return f"{what}: {spec_usage()} (default {default})"


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
            "--k",
            type=int_range(2),
            default=None if protocol else 4,
            help=f"options per question K (default {dflt}4)",
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
    choices = MethodChoices()  # the registered names; NAME:key=value,... specs pass too
    spec = "; NAME:key=value,... sets the method's own options (e.g. risk-gain-encoded:spread=4)"
    if repeatable:
        p.add_argument(
            "--method",
            action="append",
            required=required,
            choices=choices,
            type=method_spec,
            help="query strategy; repeatable" + ("" if required else " (default: the protocol's)") + spec,
        )
    else:
        p.add_argument(
            "--method",
            default=default,
            choices=choices,
            type=method_spec,
            help=f"query strategy (default {default}){spec}",
        )


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
            type=nonnegative_float,
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
        "the learner sees token sums; other-model: the user judges with --user-embedder",
    )
    p.add_argument(
        "--user-embedder",
        default="minilm-static",
        help="the encoder the simulated person judges with in --world other-model (default minilm-static)",
    )
    p.add_argument(
        "--prior",
        default="none",
        help="the learner's prior: none (flat λI), packaged, or a file from `edpbrl prior fit`; a member "
        "with the evaluated style's name is left out (default none)",
    )
    p.add_argument(
        "--words",
        default="none",
        help="the person's own words: none, auto (the style's name), misleading (the least similar "
        "population member's name) or a text (default none)",
    )
    p.add_argument(
        "--user",
        default="style",
        choices=["style", "orthogonal"],
        help="the simulated person: the style's θ*, or θ* with the population mean's direction removed",
    )
    p.add_argument(
        "--prior-scale", type=positive_float, help="β₀ the prior assumes (default: the prior's, 10)"
    )
    p.add_argument("--label", default="", help="report the methods as method[LABEL] (to merge settings)")


def add_parallel_options(p: argparse.ArgumentParser) -> None:
    """--workers, --backend, --address, --no-progress: where the runs go (see parallel_kwargs)."""
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="parallel processes (or local Ray CPUs) over seeds (default 1)",
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


_SIM_FIELDS = (
    "k",
    "rationality",
    "lam",
    "criterion",
    "vocab",
    "embedder",
    "feedback",
    "world",
    "vocab_mode",
    "prior",
    "words",
    "user",
    "prior_scale",
    "user_embedder",
    "label",
)


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
