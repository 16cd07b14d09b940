"""``edpbrl prior fit`` (a population prior from style files or earlier sessions) and
``edpbrl prior show``."""

from __future__ import annotations

from pathlib import Path

from .options import (
    add_json_option,
    add_out_option,
    check_out,
    embedder_help,
    int_range,
    print_json,
    progress_bar,
)


def cmd_prior_fit(a) -> int:
    from ..embed import load_embedder
    from ..errors import EdpbrlError
    from ..prior import population_style_files, prior_from_styles

    out = check_out(a.out, force=a.force, stdout="a prior is a binary .npz file; give a path")
    if not a.styles and not a.packaged and not a.db:
        raise EdpbrlError("give --styles DIR (repeatable), --packaged or --db STORE")
    emb = load_embedder(a.embedder)
    files: list = []
    for d in a.styles or []:
        found = sorted(Path(d).glob("*.txt"))
        if not Path(d).is_dir() or not found:
            raise EdpbrlError(f"--styles {d}: not a directory of .txt style files")
        files.extend(found)
    if a.packaged:
        files.extend(population_style_files())
    kw = dict(noise_floor=a.noise_floor, scale=a.scale, words_map=a.words_map)
    with progress_bar("prior", count=False) as cb:
        if a.db:
            from ..population import prior_from_store
            from ..store import open_store

            cb(0, 1, "reading sessions")
            store = open_store(a.db, create=False)
            prior = prior_from_store(store, emb, styles=files, min_answers=a.min_answers, progress=cb, **kw)
        else:
            cb(0, 1, f"embedding {len(files)} styles")
            prior = prior_from_styles(files, emb, **kw)
    prior.save(out)
    d = prior.describe()
    print(f"wrote {out}: {d['members']} members, {d['components']} components, encoder {d['embedder']}")
    return 0


def cmd_prior_show(a) -> int:
    from ..prior import Prior

    d = Prior.load(a.path).describe()
    if a.json:
        print_json(d)
        return 0
    print(f"prior over {d['dim']}-d {d['embedder']} taste directions, {d['members']} members")
    print(f"  members: {', '.join(d['names'])}")
    if d["left_out"]:
        print(f"  left out: {', '.join(d['left_out'])}")
    shares = ", ".join(f"{100 * s:.1f}%" for s in d["top_component_shares"])
    iso = d["isotropic_variance"]
    print(f"  covariance: {d['components']} components + isotropic {iso:.2e}; top shares {shares}")
    mapped = f" + W·words (ridge α = {d['words_alpha']:g})" if d["words_map"] else ""
    print(
        f"  own words: mean = {d['mean_weight']:.3f}·population mean + {d['words_weight']:.3f}·words{mapped}"
    )
    print(f"  assumed rationality β₀ = {d['scale']:g} ± {d['scale_sd']:g}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("prior", help="population priors: fit one, show one")
    psub = p.add_subparsers(dest="prior_command", required=True)
    f = psub.add_parser("fit", help="fit a prior on style files and/or earlier sessions")
    f.add_argument(
        "--styles", action="append", help="a directory of style files (one sentence per line); repeatable"
    )
    f.add_argument("--packaged", action="store_true", help="include the packaged styles and population")
    f.add_argument("--db", help="include the sessions that chose to share their taste, from this store")
    f.add_argument(
        "--min-answers",
        type=int_range(1),
        default=5,
        help="with --db: the fewest answers a shared session needs to join (default 5)",
    )
    f.add_argument("--embedder", default="minilm", help=embedder_help())
    f.add_argument("--noise-floor", type=float, default=0.0, help="lower bound on the isotropic variance")
    f.add_argument(
        "--words-map",
        action="store_true",
        help="also learn a ridge map from the words to the taste (helps people who write like the "
        "population; fit it on sessions, --db, rather than on written styles)",
    )
    f.add_argument("--scale", type=float, default=10.0, help="assumed rationality β₀ (default 10)")
    add_out_option(f, "the prior file to write (.npz)", required=True)
    f.set_defaults(fn=cmd_prior_fit)
    s = psub.add_parser("show", help="describe a prior file")
    s.add_argument("path", help="a prior file written by `edpbrl prior fit`")
    add_json_option(s)
    s.set_defaults(fn=cmd_prior_show)
