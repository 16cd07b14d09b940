"""How many prefixes must the results' beam search encode? Prompt quality by the person's true
taste against the encoder work per person.

The app's results are the 4 best prompts for θ̂ that differ pairwise in ≥ 2 slots, found by a beam
search that encodes at most ``candidates`` prefixes per slot (default 20). After the question bank
removed the answered options' encoding, that search is most of a person's CPU. For simulated app
users — each packaged style (θ* its sentences' embedding, left out of the packaged prior, its name
as the person's words), 30 questions of the app's default method answered at β = 10 — this script
computes θ̂ once and then the result prompts with several beam settings, and scores each set by the
person's true taste θ*ᵀx (MiniLM, the whole prompt): mean over the 4 prompts and the first one.
References per person: the mean score of 1,000 random prompts (0 on the scale below) and a beam
search *with θ** encoding every extension (1): ``share`` = (score − random) / (oracle − random).

Variants: which prefixes to encode — ``candidates`` 20 / 12 / 8 / 5 per slot chosen by the pooled
prediction (the normalised word-weighted mean of the prefix's and the token's vectors, the
library's default) or by the additive one (prefix score + token score, the rule before), every
extension (``all``), and no prefix at all (``additive only``: the beam scores prefixes by the sum
of their tokens' features, already encoded with the vocabulary). ``encoded`` counts the prefixes a
variant encodes per person (the first slot's are the same for most people and cached in the
app); ``deeper`` those of slots 2–6. ``varied`` counts the people whose 4 prompts differ
pairwise in at least 2 slots, as the app asks (fewer: the rule had to fill up with near-duplicates
of the best prompt). With that rule the last slot also encodes up to 4 more prompts, the best
predicted ones that differ pairwise (``beam_search``); ``beam_candidates_first.json`` is a first
run without them, where 8 pooled candidates left only 1 of 30 people with varied prompts.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python docs/results/app/beam_candidates.py [--seeds 3]
Writes docs/results/app/beam_candidates.json and prints a table (means ± standard errors over people).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from edpbrl.embed import load_embedder  # noqa: E402
from edpbrl.embed.token_sum import TokenSumEmbedder  # noqa: E402
from edpbrl.personalizer import RESULT_MIN_DIFF_SLOTS, Personalizer  # noqa: E402
from edpbrl.prior import member_name, packaged_prior  # noqa: E402
from edpbrl.prompts import beam_search  # noqa: E402
from edpbrl.stopping import StopRule  # noqa: E402
from edpbrl.users import LinearUser, make_test_prompts, packaged_styles, read_style, style_theta  # noqa: E402
from edpbrl.vocab import Vocabulary  # noqa: E402

OUT = Path("docs/results/app/beam_candidates.json")
METHOD = "ed-pbrl-rounded:bank=64"
VARIANTS = {  # name: (candidates, predict); "additive only" encodes no prefix
    "additive 20 (before)": (20, "additive"),
    "pooled 20": (20, "pooled"),
    "pooled 12": (12, "pooled"),
    "pooled 8": (8, "pooled"),
    "pooled 5": (5, "pooled"),
    "additive 8": (8, "additive"),
    "all": (None, "pooled"),
    "additive only": ("sum", "additive"),
}


class Counting:
    """An encoder that counts the texts it is asked for (per slot depth: texts with no ', ' are
    first-slot prefixes)."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.first = self.deeper = 0

    def encode(self, texts):
        texts = list(texts)
        deep = sum(", " in t for t in texts)
        self.deeper += deep
        self.first += len(texts) - deep
        return self.inner.encode(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="people per style (default 3)")
    ap.add_argument("--questions", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    emb = load_embedder("minilm")
    vocab = Vocabulary.default()
    prior_all = packaged_prior(emb)
    rand = make_test_prompts(vocab, 1000, blank=0.0, seed=7)
    X_rand = np.asarray(emb.encode(rand), dtype=np.float64)
    feats = [np.asarray(emb.encode(list(s.entries)), dtype=np.float64) for s in vocab.slots]
    additive = TokenSumEmbedder(emb)
    slot_sets = [set(sl.entries) for sl in vocab.slots]

    def slots_of(text):  # a prompt's token per slot (None for a blank slot)
        out, h = [None] * len(slot_sets), 0
        for part in text.split(", "):
            while h < len(slot_sets) and part not in slot_sets[h]:
                h += 1
            if h < len(slot_sets):
                out[h], h = part, h + 1
        return out

    def varied(prompts):  # the 4 differ pairwise in at least RESULT_MIN_DIFF_SLOTS slots
        ps = [slots_of(t) for t in prompts]
        return all(
            sum(x != y for x, y in zip(a, b)) >= RESULT_MIN_DIFF_SLOTS
            for i, a in enumerate(ps)
            for b in ps[i + 1 :]
        )

    rows = []
    jobs = [(s, seed) for s in packaged_styles() for seed in range(args.seeds)]
    for style, seed in tqdm(jobs, desc="people"):
        theta_star = style_theta(read_style(style), emb)
        user = LinearUser(theta_star, 10.0, seed=10_000 + seed)
        p = Personalizer(
            vocab,
            emb,
            k=4,
            episodes=30,
            method=METHOD,
            seed=seed,
            prior=prior_all.without(style),
            words=member_name(style),
            stop=StopRule(max_questions=args.questions),
        )
        while (q := p.ask()) is not None:
            p.tell(q, user.choose(np.asarray(emb.encode(q.options))))
        theta_hat = p.fit()

        def true_scores(prompts, theta_star=theta_star):
            return np.asarray(emb.encode(prompts), dtype=np.float64) @ theta_star

        lo = float((X_rand @ theta_star).mean())
        oracle = beam_search(
            theta_star,
            vocab,
            emb,
            n=4,
            candidates=None,
            token_features=feats,
            min_diff_slots=RESULT_MIN_DIFF_SLOTS,
        )
        hi = float(true_scores([t for t, _ in oracle]).mean())
        row = {"style": style, "seed": seed, "random": lo, "oracle": hi, "variants": {}}
        for name, (c, rule) in VARIANTS.items():
            enc = Counting(additive if c == "sum" else emb)
            found = beam_search(
                theta_hat,
                vocab,
                enc,
                n=4,
                candidates=None if c in (None, "sum") else c,
                token_features=feats,
                min_diff_slots=RESULT_MIN_DIFF_SLOTS,
                predict=rule,
            )
            s = true_scores([t for t, _ in found])
            row["variants"][name] = {
                "mean4": float(s.mean()),
                "top1": float(s[0]),
                "share4": float((s.mean() - lo) / (hi - lo)),
                "encoded": 0 if c == "sum" else enc.first + enc.deeper,
                "deeper": 0 if c == "sum" else enc.deeper,
                "prompts": [t for t, _ in found],
                "varied": varied([t for t, _ in found]),
            }
        rows.append(row)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"method": METHOD, "questions": args.questions, "people": rows}, indent=1))

    def mse(vals):
        v = np.asarray(vals, dtype=np.float64)
        return f"{v.mean():.4f} ± {v.std(ddof=1) / np.sqrt(len(v)):.4f}"

    base = "additive 20 (before)"
    print(f"{len(rows)} people ({args.seeds} per packaged style), {args.questions} questions, {METHOD}")
    print(
        f"{'prefixes chosen by':<22} {'share of oracle':>18} {'Δ mean-4 vs before':>20} "
        f"{'Δ top-1 vs before':>20} {'encoded':>8} {'deeper':>7} {'varied':>7}"
    )
    for name in VARIANTS:
        v = [r["variants"][name] for r in rows]
        b = [r["variants"][base] for r in rows]
        d4 = [x["mean4"] - y["mean4"] for x, y in zip(v, b)]
        d1 = [x["top1"] - y["top1"] for x, y in zip(v, b)]
        print(
            f"{name:<22} {mse([x['share4'] for x in v]):>18} {mse(d4):>20} {mse(d1):>20} "
            f"{np.mean([x['encoded'] for x in v]):>8.0f} {np.mean([x['deeper'] for x in v]):>7.0f} "
            f"{sum(x['varied'] for x in v):>4}/{len(v)}"
        )
    print(
        f"oracle (θ*, every extension) mean-4 {mse([r['oracle'] for r in rows])}, "
        f"random prompts {mse([r['random'] for r in rows])}"
    )


if __name__ == "__main__":
    main()
