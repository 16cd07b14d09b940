"""``edpbrl personalize``: θ̂ (or a style's θ) → the best prompts by beam search."""

from __future__ import annotations

import numpy as np

from .options import add_json_option, embedder_help, load_vocabulary, print_json


def cmd_personalize(a) -> int:
    from ..embed import load_embedder
    from ..prompts import beam_search
    from ..users import read_style, style_theta

    emb = load_embedder(a.embedder)
    if a.theta:
        try:
            theta = np.load(a.theta)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"edpbrl: cannot read θ file {a.theta}: {exc}") from None
    else:
        theta = style_theta(read_style(a.style), emb)
    theta = np.asarray(theta, dtype=np.float64).ravel()
    if theta.shape[0] != emb.dim:
        raise SystemExit(
            f"edpbrl: θ has dimension {theta.shape[0]} but the {emb.name} encoder gives {emb.dim}"
        )
    best = beam_search(theta, load_vocabulary(a.vocab), emb, n=a.n, beam=a.beam)
    if a.json:
        print_json({"prompts": [{"prompt": t, "score": s} for t, s in best]})
    else:
        for t, s in best:
            print(f"{s:8.4f}  {t}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("personalize", help="θ̂ → best prompts by beam search")
    p.add_argument("--theta", help="θ̂ as .npy (e.g. from `edpbrl export --format npy`)")
    p.add_argument("--style", default="sunny", help="or: a style file/name, θ = its embedding")
    p.add_argument("--vocab", help="vocabulary directory or YAML (default: packaged)")
    p.add_argument("--embedder", default="minilm", help=embedder_help("encoder the θ̂ belongs to"))
    p.add_argument("--n", type=int, default=8, help="number of prompts")
    p.add_argument("--beam", type=int, default=15, help="beam width")
    add_json_option(p)
    p.set_defaults(fn=cmd_personalize)
