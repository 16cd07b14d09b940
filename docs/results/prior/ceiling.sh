#!/usr/bin/env bash
# The oracle bound (edpbrl experiment ceiling): how much could any choice of questions gain over
# random ones, and which of the oracle's kinds of knowledge the gain comes from. One JSON per
# setting under docs/results/prior/ceiling/ (an existing one is skipped). Needs `edpbrl data paper`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
E=".venv/bin/edpbrl"
OUT=docs/results/prior/ceiling
mkdir -p "$OUT"
STYLES=(--style paper:sunny --style paper:medieval --style paper:technological)
PACKAGED=()
for f in src/edpbrl/data/styles/*.txt; do PACKAGED+=(--style "$(basename "$f" .txt)"); done
C=(experiment ceiling --vocab paper --embedder minilm --pool 600 --orders 10 --no-progress)
one() {  # name, then options
  local name=$1; shift
  [ -f "$OUT/$name.json" ] || HF_HUB_OFFLINE=1 "$E" "${C[@]}" "$@" --out "$OUT/$name.json" > "$OUT/$name.txt"
}
one prior --prior packaged --words auto "${STYLES[@]}" "${PACKAGED[@]}"
one flat --prior none --words none "${STYLES[@]}"
P=(--prior packaged --words auto "${STYLES[@]}")
one prior-knows-prior "${P[@]}" --knows prior
one prior-surrogate "${P[@]}" --features surrogate
one prior-vocab "${P[@]}" --target vocab
one prior-design-knowledge "${P[@]}" --knows prior --features surrogate --target vocab
# the error at one person (bias + variance) and simulated people's preference error (20 each)
R=(--prior packaged --words auto "${STYLES[@]}" --style noir --style cozy_autumn --style technological --style fairytale)
one realised-knows-prior "${R[@]}" --knows prior --realise 20
one realised-risk-oracle --prior packaged --words auto --style paper:sunny --style paper:technological \
  --style noir --style cozy_autumn --questions 30 --questions 100 --target risk --realise 20
# how many nats the answers carry about where each person departs from the prior (random, the
# variance oracle a design could be, the risk oracle that knows the departure), every style
A=(--prior packaged --words auto "${STYLES[@]}" "${PACKAGED[@]}")
one evidence-knows-prior "${A[@]}" --knows prior
one evidence-risk-oracle "${A[@]}" --target risk
# the same people answering three times as decisively (β = 30, the prior told so): the evidence per answer
one evidence-beta30 --prior packaged --words auto "${STYLES[@]}" --style noir --style cozy_autumn \
  --style technological --knows prior --rationality 30 --prior-scale 30
# people unlike the population (its mean direction removed): how much their answers say
one evidence-orthogonal --prior packaged --words auto --user orthogonal "${STYLES[@]}" --knows prior
