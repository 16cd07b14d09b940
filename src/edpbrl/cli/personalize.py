"""``edpbrl personalize``: θ̂ (or a style's θ) → the best prompts by beam search."""

from __future__ import annotations

from ..errors import EdpbrlError
from .options import add_json_option, embedder_help, int_range, load_vocabulary, positive_int, print_json


def cmd_personalize(a) -> int:
    from ..embed import load_embedder
    from ..export import read_theta
    from ..prompts import beam_search, check_theta
    from ..users import read_style, style_theta

    theta = read_theta(a.theta) if a.theta else None  # a bad file fails before the encoder loads
    vocab = load_vocabulary(a.vocab)
    emb = load_embedder(a.embedder)
    if theta is None:
        theta = style_theta(read_style(a.style), emb)
    theta = check_theta(theta, what=f"θ from {a.theta}" if a.theta else "θ")
    if theta.shape[0] != emb.dim:
        raise EdpbrlError(
            f"θ has dimension {theta.shape[0]} but the {emb.name} encoder gives {emb.dim}; "
            "pass the --embedder it was learned with"
        )
    best = beam_search(theta, vocab, emb, n=a.n, beam=a.beam, min_diff_slots=a.min_diff_slots)
    if a.json:
        print_json({"prompts": [{"prompt": t, "score": s} for t, s in best]})
    else:
        for t, s in best:
            print(f"{s:8.4f}  {t}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("personalize", help="θ̂ → best prompts by beam search")
    p.add_argument(
        "--theta",
        help="θ̂ as written by `edpbrl export`: the --format theta JSON or a .npy vector",
    )
    p.add_argument("--style", default="sunny", help="or: a style file/name, θ = its embedding")
    p.add_argument("--vocab", help="vocabulary directory or YAML (default: packaged)")
    p.add_argument("--embedder", default="minilm", help=embedder_help("encoder the θ̂ belongs to"))
    p.add_argument("--n", type=positive_int, default=8, help="number of prompts (default 8)")
    p.add_argument("--beam", type=positive_int, default=15, help="beam width (default 15)")
    p.add_argument(
        "--min-diff-slots",
        type=int_range(0),
        default=0,
        help="prompts differ pairwise in at least this many slots (default 0: the plain top-n)",
    )
    add_json_option(p)
    p.set_defaults(fn=cmd_personalize)
