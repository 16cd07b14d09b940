"""The ``edpbrl`` command line: the parser, assembled from one module per command group, and
:func:`main`. Commands are thin: parse options, call the library, print results."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import EdpbrlError
from . import app, bench, data, demo, design, experiment, personalize, prior, simulate
from .options import Parser

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# each has add_parsers(subparsers)
GROUPS = (demo, design, simulate, personalize, app, bench, experiment, data, prior)


def build_parser() -> argparse.ArgumentParser:
    P = Parser(
        prog="edpbrl",
        description="Personalise generative models from few preference answers (ED-PBRL).",
    )
    sub = P.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parsers(sub)
    return P


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except EdpbrlError as exc:
        print(f"edpbrl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
