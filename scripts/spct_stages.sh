#!/bin/bash
# The SPCT stages of docs/results.md, from the embedded (warm-start) miniature GRM:
#   RFT -> GRPO, GRPO without RFT (the ablation), the meta RM on the RFT trajectories, each GRM
#   evaluated on the test split (greedy, voting@8, meta-RM voting@8), then the comparison.
#
#   scripts/spct_stages.sh [RUN_DIR]        # default runs/spct
#
# Measured on one H100 (docs/results.md): RFT 54 s, GRPO 76 s, meta RM 50 s, each eval about a
# minute. On 2 CPU cores expect hours: sampling dominates.
set -euo pipefail
W=${1:-runs/spct}
SHIP=$(python -c "from spct.grm import DEFAULT_MODEL; print(DEFAULT_MODEL)")
RFT_ITEMS=1500
mkdir -p "$W"
spct train rft --model "$SHIP" --out "$W/rft" --items $RFT_ITEMS --sample_batch 64
spct train grpo --model "$W/rft/model" --out "$W/grpo" --easy_from "$W/rft/trajectories.jsonl" --max_steps 40 --prompts_per_step 16
spct train grpo --model "$SHIP" --out "$W/grpo-norft" --max_steps 40 --prompts_per_step 16
spct train meta-rm --trajectories "$W/rft/trajectories.jsonl" --items $RFT_ITEMS --base "$SHIP" --out "$W/meta-rm"
for stage in warm rft grpo grpo-norft; do
  model="$W/$stage/model"; [ $stage = warm ] && model="$SHIP"
  spct miniature eval --model "$model" --run-dir "$W/$stage-eval" --doc "$W/$stage-eval/miniature.md" \
    --meta-rm "$W/meta-rm/model" --batch-size 64
done
spct miniature compare "warm start=$W/warm-eval" "RFT=$W/rft-eval" "RFT + GRPO=$W/grpo-eval" \
  "GRPO without RFT=$W/grpo-norft-eval" --doc docs/results.md
