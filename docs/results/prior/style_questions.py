"""Questions between earlier people's own sentences: do they find the person faster?

`edpbrl experiment guess` shows that the population's span could express each evaluation style
far better than the zero-question guess does, so the missing piece is *which* combination of
earlier people a person resembles. This script asks that directly: each question shows K = 4
sentences, each from a different random member of the training population (the evaluated style's
namesake left out), the simulated person (β = 10, the same softmax as every experiment) picks one,
and the MAP estimate under the packaged prior moved by the person's words is refitted after 0, 5,
10, 20 and 30 such questions. Also the mean evidence per question, KL(p_θ ‖ p_m) in nats (the
answer's expected log-likelihood ratio for the person's θ against the prior's guess, as in
`experiment ceiling`). Preference error on the protocol's held-out test prompts; 20 seeds
(people) per style. Writes docs/results/prior/guess/style_questions.json.

    HF_HUB_OFFLINE=1 .venv/bin/python docs/results/prior/style_questions.py [SEEDS]
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edpbrl.choice import fit_mle  # noqa: E402
from edpbrl.experiments.protocol import PROTOCOLS  # noqa: E402
from edpbrl.experiments.simulate import learner_prior, person_theta, person_words, setup_world  # noqa: E402
from edpbrl.prior import member_name, population_style_files  # noqa: E402
from edpbrl.users import LinearUser, preference_error, read_style  # noqa: E402

BUDGETS = (0, 5, 10, 20, 30)


def softmax(u: np.ndarray) -> np.ndarray:
    z = np.exp(u - u.max())
    return z / z.sum()


def main(seeds: int = 20) -> dict:
    import torch

    torch.set_num_threads(2)
    cfg = PROTOCOLS.get("ours").config(embedder="minilm", prior="packaged", words="auto")
    w = setup_world(cfg)
    enc, X = w.learner, w.X_test_learner
    files = population_style_files()
    sentences = {member_name(f): np.asarray(enc.encode(read_style(f)), dtype=np.float64) for f in files}
    styles = ["paper:sunny", "paper:medieval", "paper:technological"]
    styles += [f.stem for f in files if f.parent.name == "styles"]
    rows = []
    for style in styles:
        theta = person_theta(style, cfg, w)
        words = person_words(style, cfg, w, theta)
        prior = learner_prior(style, cfg, w).with_words(np.asarray(enc.encode([words])[0], dtype=np.float64))
        P, m = torch.as_tensor(prior.theta_precision()), prior.theta_mean()
        members = [k for k in sentences if k != member_name(words)]
        errors = {b: [] for b in BUDGETS}
        nats = []  # KL(p_θ ‖ p_m) of each question: what its answer says about θ against the guess
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            user = LinearUser(theta, cfg.rationality, seed=10_000 + seed)
            Q, y = [], []
            for _ in range(max(BUDGETS)):
                pick = rng.choice(len(members), cfg.k, replace=False)
                opts = np.stack(
                    [sentences[members[j]][rng.integers(len(sentences[members[j]]))] for j in pick]
                )
                Q.append(opts)
                p_theta, p_m = softmax(opts @ (cfg.rationality * theta)), softmax(opts @ m)
                nats.append(float(p_theta @ (np.log(p_theta) - np.log(p_m))))
                y.append(user.choose(opts))
            for b in BUDGETS:
                est = (
                    m
                    if b == 0
                    else fit_mle(np.stack(Q[:b]), np.array(y[:b]), 1.0, prior=P, prior_mean=m).theta.numpy()
                )
                errors[b].append(preference_error(est, theta, X, cfg.n_pairs, seed=seed))
        row = {
            "style": style,
            "questions": list(BUDGETS),
            "preference_error": [float(np.mean(errors[b])) for b in BUDGETS],
            "preference_error_se": [float(np.std(errors[b], ddof=1) / np.sqrt(seeds)) for b in BUDGETS],
            "nats_per_question": float(np.mean(nats)),
        }
        rows.append(row)
        print(
            style,
            f"nats/question {row['nats_per_question']:.3f}",
            " ".join(
                f"@{b}={e:.3f}±{s:.3f}"
                for b, e, s in zip(BUDGETS, row["preference_error"], row["preference_error_se"])
            ),
            flush=True,
        )
    return {"seeds": seeds, "members": len(sentences), "results": rows}


if __name__ == "__main__":
    out = main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    path = Path(__file__).parent / "guess" / "style_questions.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
