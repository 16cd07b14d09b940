"""Solve and disk-cache the static designs of the issue-8 experiments (same keys as the runs).

Usage, from the repository root: python docs/results/kpolicy/precompute_designs.py [main|ablations|all]
(main: the paper and ours protocols; ablations: the single-ingredient switches). Prints one JSON
line per design (its certificate and wall time) and writes designs_precompute_WHICH.json."""
import json, sys, time, torch
torch.set_num_threads(2)
from edpbrl.experiments.protocol import PROTOCOLS
from edpbrl.experiments.simulate import setup_world
from edpbrl.personalizer import Personalizer
configs = [
    ("paper", {}, ["ed-pbrl", "ed-pbrl-mixture"]),
    ("ours", {}, ["ed-pbrl", "ed-pbrl-mixture"]),
    ("paper", {"criterion": "A"}, ["ed-pbrl"]),
    ("paper", {"lam": 1.0}, ["ed-pbrl"]),
    ("paper", {"vocab_mode": "per-slot"}, ["ed-pbrl"]),
]
which = sys.argv[1] if len(sys.argv) > 1 else "all"
if which == "main":
    configs = configs[:2]
elif which == "ablations":
    configs = configs[2:]
out = []
for proto, over, methods in configs:
    cfg = PROTOCOLS.get(proto).config(embedder="minilm", **over)
    w = setup_world(cfg)
    for m in methods:
        t = time.time()
        p = Personalizer(w.design_vocab, w.learner, k=cfg.k, episodes=80, method=m, seed=0, lam=cfg.lam,
                         criterion=cfg.criterion, feedback=cfg.feedback)
        c = p.certificate
        row = {"protocol": proto, "override": over, "method": m, "wall_seconds": time.time() - t, **c}
        out.append(row)
        print(json.dumps(row), flush=True)
json.dump(out, open(f"docs/results/kpolicy/designs_precompute_{which}.json", "w"), indent=2)
