"""How decisive the simulated people are: the s.d. of θ*ᵀx over the held-out test prompts and the
mean chance of picking the favourite of the 300 held-out 4-way questions, at β = 1 (the paper)
and β = 10 (ours). Run from the repository root: python docs/results/kpolicy/decisiveness.py"""
import numpy as np, torch, json
torch.set_num_threads(1)
from edpbrl.experiments.protocol import PROTOCOLS
from edpbrl.experiments.simulate import setup_world, person_theta
out = {}
for proto in ("paper", "ours"):
    cfg = PROTOCOLS.get(proto).config(embedder="minilm")
    w = setup_world(cfg)
    for style in ("paper:sunny", "paper:medieval", "paper:technological"):
        th = person_theta(style, cfg, w)
        u = w.X_test_user @ th
        rng = np.random.default_rng(0)
        for beta in (1.0, 10.0):
            fav = []
            for idx in w.choice_sets:
                z = beta * u[idx]; p = np.exp(z - z.max()); p /= p.sum(); fav.append(p.max())
            out[f"{proto} {style} beta={beta:g}"] = {"utility_sd": float(u.std()), "p_favourite": float(np.mean(fav))}
json.dump(out, open("docs/results/kpolicy/decisiveness.json", "w"), indent=1)
for k, v in out.items(): print(k, {a: round(b, 3) for a, b in v.items()})
