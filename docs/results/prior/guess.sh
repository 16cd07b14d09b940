#!/usr/bin/env bash
# The zero-question guess (edpbrl experiment guess): how good is the prior's mean moved by the
# person's words before any question, between oracle bounds (best use of the words, best prior
# mean the population could express, a random subspace as control). Our protocol, MiniLM,
# packaged prior with each style's namesake left out, words = the style's name. Writes
# docs/results/prior/guess/{evaluation,population}.json; needs `edpbrl data paper` first.
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=docs/results/prior/guess
mkdir -p "$OUT"
COMMON=(--protocol ours --embedder minilm --prior packaged --words auto --no-progress)
EVAL=(--style paper:sunny --style paper:medieval --style paper:technological)
for f in src/edpbrl/data/styles/*.txt; do EVAL+=(--style "$(basename "$f" .txt)"); done
POP=()  # the training population's members, each evaluated with itself left out
for f in src/edpbrl/data/population/*.txt; do POP+=(--style "$f"); done
HF_HUB_OFFLINE=1 .venv/bin/edpbrl experiment guess "${COMMON[@]}" "${EVAL[@]}" --out "$OUT/evaluation.json" --force
HF_HUB_OFFLINE=1 .venv/bin/edpbrl experiment guess "${COMMON[@]}" "${POP[@]}" --out "$OUT/population.json" --force
