"""``edpbrl data paper`` (fetch the paper's word lists and style sentences) and ``edpbrl data path``."""

from __future__ import annotations

from .options import progress_bar


def cmd_data_paper(a) -> int:
    from ..data import RAW_BASE, fetch_paper_data

    with progress_bar("paper data") as cb:
        root = fetch_paper_data(source=a.source, url_base=a.url or RAW_BASE, dest=a.dest, progress=cb)
    print(f"the paper's vocabulary and styles, verified: {root}")
    print("use them as --vocab paper and --style paper:sunny / paper:medieval / paper:technological")
    return 0


def cmd_data_path(a) -> int:
    from ..data import paper_dir

    print(paper_dir(required=True))
    return 0


def add_parsers(sub) -> None:
    d = sub.add_parser("data", help="data that does not ship with the package (the paper's)")
    dsub = d.add_subparsers(dest="data", required=True)
    p = dsub.add_parser(
        "paper", help="fetch the paper's vocabulary and style sentences at pinned commits, checksummed"
    )
    p.add_argument(
        "--from",
        dest="source",
        help="copy from this local directory (vocabulary/, styles/) instead of downloading",
    )
    p.add_argument("--url", help="base URL of raw files (default https://raw.githubusercontent.com)")
    p.add_argument(
        "--dest", help="where to put them (default: $EDPBRL_DATA_DIR/paper or ~/.cache/edpbrl/data/paper)"
    )
    p.set_defaults(fn=cmd_data_paper)
    q = dsub.add_parser("path", help="print the directory of the fetched paper data (after checking it)")
    q.set_defaults(fn=cmd_data_path)
