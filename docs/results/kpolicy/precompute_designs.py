"""Solve and disk-cache the static designs of the issue-8 experiments (same keys as the runs).

Usage, from the repository root:
    python docs/results/kpolicy/precompute_designs.py [main|ablations|all]
(main: the paper and ours protocols; ablations: the single-ingredient switches). Prints one JSON
line per design (its certificate and wall time) and writes designs_precompute_WHICH.json."""

import json
import sys
import time

import torch

from edpbrl.experiments.protocol import PROTOCOLS
from edpbrl.experiments.simulate import setup_world
from edpbrl.personalizer import Personalizer

CONFIGS = [  # (protocol, overrides, methods)
    ("paper", {}, ["ed-pbrl", "ed-pbrl-mixture"]),
    ("ours", {}, ["ed-pbrl", "ed-pbrl-mixture"]),
    ("paper", {"criterion": "A"}, ["ed-pbrl"]),
    ("paper", {"lam": 1.0}, ["ed-pbrl"]),
    ("paper", {"vocab_mode": "per-slot"}, ["ed-pbrl"]),
]


def main(which: str) -> None:
    torch.set_num_threads(2)
    configs = {"main": CONFIGS[:2], "ablations": CONFIGS[2:]}.get(which, CONFIGS)
    out = []
    for proto, over, methods in configs:
        cfg = PROTOCOLS.get(proto).config(embedder="minilm", **over)
        w = setup_world(cfg)
        for m in methods:
            t = time.time()
            p = Personalizer(
                w.design_vocab, w.learner, k=cfg.k, episodes=80, method=m, seed=0, lam=cfg.lam,
                criterion=cfg.criterion, feedback=cfg.feedback,
            )  # fmt: skip
            row = {"protocol": proto, "override": over, "method": m, "wall_seconds": time.time() - t}
            row.update(p.certificate)
            out.append(row)
            print(json.dumps(row), flush=True)
    with open(f"docs/results/kpolicy/designs_precompute_{which}.json", "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all")
