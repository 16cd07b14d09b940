"""Would more telling words make a better zero-question guess? The person's words as one (or two)
of their style's own sentences instead of the style's name.

For each evaluation style with more than one sentence (the paper's medieval and technological,
the 10 packaged styles) and each of its sentences i: θ* is the style of the *other* sentences
(so the words never see the sentences θ* is made of), and the guess is the prior's mean moved by
the words, a·m + c·b·e(words), with the prior's fitted weights (a, b) (fitted on the population
with names as words) and c a multiplier of the words' weight. Words: the style's name, sentence i,
or sentences i and i+1 (both left out of θ*). Preference error on 2,000 held-out test pairs,
averaged over i. Our protocol, MiniLM, packaged prior with the style's namesake left out.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python docs/results/prior/sentence_words.py
Writes docs/results/prior/guess/sentence_words.json and prints a table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from edpbrl.cli.main import build_parser  # noqa: E402
from edpbrl.cli.options import sim_config  # noqa: E402
from edpbrl.experiments.simulate import learner_prior, setup_world  # noqa: E402
from edpbrl.prior import member_name  # noqa: E402
from edpbrl.users import packaged_styles, preference_error, read_style, style_theta  # noqa: E402

OUT = Path("docs/results/prior/guess/sentence_words.json")
MULTS = (0.5, 1.0, 2.0, 3.0)
PAIRS = 2000


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def guess_world():
    """(config, world) of ``experiment guess`` with our protocol, MiniLM, the packaged prior and
    the style's name as words (shared with words_retrieval.py)."""
    args = ["experiment", "guess", "--protocol", "ours", "--embedder", "minilm", "--prior", "packaged"]
    cfg = sim_config(build_parser().parse_args([*args, "--words", "auto"]))
    return cfg, setup_world(cfg)


def main() -> None:
    cfg, w = guess_world()
    X, Xs = w.X_test_learner, w.X_test_user
    styles = ["paper:medieval", "paper:technological", *packaged_styles()]
    rows = []
    for style in tqdm(styles, desc="styles"):
        sents = read_style(style)
        prior = learner_prior(style, cfg, w)
        a, b = prior.mean_weight, prior.words_weight
        e_name = np.asarray(w.learner.encode([member_name(style)])[0], dtype=np.float64)
        E = np.asarray(w.learner.encode(sents), dtype=np.float64)
        errs: dict[str, list[float]] = {}
        for i in range(len(sents)):
            j = (i + 1) % len(sents)
            theta1 = style_theta([s for k, s in enumerate(sents) if k != i], w.base)
            theta2 = style_theta([s for k, s in enumerate(sents) if k not in (i, j)], w.base)
            words = {
                "name": (e_name, theta1),
                "sentence": (E[i], theta1),
                "two sentences": (unit(E[i] + E[j]), theta2),
            }
            for kind, (e, theta) in words.items():
                for c in MULTS:
                    g = a * prior.mean + c * b * e
                    err = preference_error(g, theta, X, PAIRS, seed=0, X_star=Xs)
                    errs.setdefault(f"{kind} ×{c:g}", []).append(err)
        rows.append(
            {
                "style": style,
                "sentences": len(sents),
                "weights": [a, b],
                "preference_error": {
                    k: [float(np.mean(v)), float(np.std(v, ddof=1) / np.sqrt(len(v)))]
                    for k, v in errs.items()
                },
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"pairs": PAIRS, "multipliers": MULTS, "results": rows}, indent=1))
    keys = list(rows[0]["preference_error"])
    print("| style | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for r in rows:
        print(f"| {r['style']} | " + " | ".join(f"{r['preference_error'][k][0]:.3f}" for k in keys) + " |")
    means = [np.mean([r["preference_error"][k][0] for r in rows]) for k in keys]
    print("| mean | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
