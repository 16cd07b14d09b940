"""How decisive the simulated people are: the s.d. of θ*ᵀx over the held-out test prompts and the
mean chance of picking the favourite of the 300 held-out 4-way questions, at β = 1 (the paper)
and β = 10 (ours), and for a person judging with another text model (MiniLM's static wordpiece
embeddings, issue 9). Run from the repository root:
    python docs/results/kpolicy/decisiveness.py"""

import json

import numpy as np
import torch

from edpbrl.choice import probabilities
from edpbrl.experiments.protocol import PROTOCOLS
from edpbrl.experiments.simulate import person_theta, setup_world

WORLDS = (("paper", "embedding"), ("ours", "embedding"), ("ours", "other-model"))
STYLES = ("paper:sunny", "paper:medieval", "paper:technological")


def p_favourite(X: np.ndarray, theta: np.ndarray, choice_sets, beta: float) -> float:
    """Mean over questions (K indices into the rows of X each) of the chance that a person with
    taste θ and rationality β picks their favourite option."""
    options = X[np.stack([np.asarray(idx) for idx in choice_sets])]  # (n, K, d)
    return float(probabilities(beta * theta, options).max(dim=-1).values.mean())


def main() -> None:
    torch.set_num_threads(1)
    out = {}
    for proto, world in WORLDS:
        cfg = PROTOCOLS.get(proto).config(embedder="minilm", world=world)
        w = setup_world(cfg)
        tag = proto if world == "embedding" else f"{proto} {world}"
        for style in STYLES:
            theta = person_theta(style, cfg, w)
            u = w.X_test_user @ theta
            for beta in (1.0, 10.0):
                out[f"{tag} {style} beta={beta:g}"] = {
                    "utility_sd": float(u.std()),
                    "p_favourite": p_favourite(w.X_test_user, theta, w.choice_sets, beta),
                }
    with open("docs/results/kpolicy/decisiveness.json", "w") as f:
        json.dump(out, f, indent=1)
    for k, v in out.items():
        print(k, {a: round(b, 3) for a, b in v.items()})


if __name__ == "__main__":
    main()
