#!/usr/bin/env bash
# Issue 8's experiments: the paper's Figure 2/5 experiment under both protocols, then every
# ingredient of the paper's protocol switched alone to ours. Seeds run in chunks of 10 (resumable:
# a finished chunk is skipped), merged per experiment. Needs `edpbrl data paper` first.
set -euo pipefail
cd "$(dirname "$0")/../../.."
E=".venv/bin/edpbrl"
OUT=docs/results/kpolicy
COMMON=(--embedder minilm --workers 2 --no-progress)
run() {  # name, then curves options
  local name=$1; shift
  for off in 0 10; do
    local dir="$OUT/$name/chunk$off"
    if [ -f "$dir/results.json" ]; then continue; fi
    rm -rf "$dir"; mkdir -p "$(dirname "$dir")"
    HF_HUB_OFFLINE=1 "$E" experiment curves "$@" "${COMMON[@]}" --seeds 10 --seed-offset "$off" --out "$dir" > "$dir.log" 2>&1
  done
  HF_HUB_OFFLINE=1 "$E" experiment merge "$OUT/$name/chunk0/results.json" "$OUT/$name/chunk10/results.json" --out "$OUT/$name/merged" --force > /dev/null
}
what=${1:-all}
case $what in all|main) run paper --protocol paper; run ours --protocol ours;; esac
case $what in all|ablations)  # the paper's protocol with one ingredient switched to ours
  for switch in "rationality 10" "vocab-mode per-slot" "criterion A" "lam 1"; do
    set -- $switch
    run "paper-$1-$2" --protocol paper --"$1" "$2" --method random --method ed-pbrl
  done;; esac
case $what in all|ours-ablations)  # our protocol with one ingredient switched to the paper's
  for switch in "rationality 1" "criterion V" "lam 0.1"; do
    set -- $switch
    run "ours-$1-$2" --protocol ours --vocab paper --"$1" "$2" --method random --method ed-pbrl
  done;; esac
