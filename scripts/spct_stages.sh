#!/bin/bash
# The SPCT stages of docs/miniature-stages.md, from the embedded (warm-start) miniature GRM:
#   RFT -> GRPO, GRPO without RFT (the ablation), the meta RM on the RFT trajectories, each GRM
#   evaluated on the test split (greedy, voting@8, meta-RM voting@8); the baselines on the same
#   items (Bradley-Terry, pairwise, LLM-as-a-judge); the ablations of RFT without hinted sampling
#   and without principles (SFT on the same trajectories, greedy only, as the paper's ablations);
#   then the comparison, one table (a row per model and strategy, and one per family).
#
#   scripts/spct_stages.sh [RUN_DIR]        # default runs/spct
#
# Measured on one H100 (docs/miniature-stages.md): RFT 54 s, GRPO 76 s, meta RM 50 s, each eval about a
# minute. On 2 CPU cores expect hours: sampling dominates. The baselines and ablations took
# 4-10 min each on 2 CPU cores (docs/miniature-stages.md).
set -euo pipefail
W=${1:-runs/spct}
SHIP=$(python -c "from spct.grm import MINIATURE_MODEL; print(MINIATURE_MODEL)")
RFT_ITEMS=1500
mkdir -p "$W"
spct train rft --model "$SHIP" --out "$W/rft" --items $RFT_ITEMS --sample_batch 64
spct train grpo --model "$W/rft/model" --out "$W/grpo" --easy_from "$W/rft/trajectories.jsonl" --max_steps 40 --prompts_per_step 16
spct train grpo --model "$SHIP" --out "$W/grpo-norft" --max_steps 40 --prompts_per_step 16
spct train meta-rm --trajectories "$W/rft/trajectories.jsonl" --items $RFT_ITEMS --base "$SHIP" --out "$W/meta-rm"
EVAL="spct eval miniature --strict --subsets"  # strict accuracy, a column per family
for stage in warm rft grpo grpo-norft; do
  model="$W/$stage/model"; [ $stage = warm ] && model="$SHIP"
  $EVAL --model "$model" --out "$W/$stage-eval" --samples 1,2,4,8 --meta-rm "$W/meta-rm/model" --batch-size 64
done
for kind in bt pair judge; do
  spct train baseline --kind $kind --trajectories "$W/rft/trajectories.jsonl" --items $RFT_ITEMS --out "$W/$kind"
  $EVAL --model "$W/$kind/model" --out "$W/$kind-eval"
done
# The ablations fine-tune on the RFT run's own trajectories: without hints, those minus the hinted ones
# (the same unhinted draws a run with --hinted false samples); without principles, all of them.
mkdir -p "$W/rft-nohint" "$W/rft-noprinciples"
cp "$W/rft/trajectories.jsonl" "$W/rft-noprinciples/"
python - "$W/rft/trajectories.jsonl" > "$W/rft-nohint/trajectories.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    record = json.loads(line)
    record["trajectories"] = [t for t in record["trajectories"] if not t["hinted"]]
    print(json.dumps(record))
EOF
spct train rft --model "$SHIP" --out "$W/rft-nohint" --items $RFT_ITEMS --hinted false
spct train rft --model "$SHIP" --out "$W/rft-noprinciples" --items $RFT_ITEMS --principles false
for ablation in nohint noprinciples; do
  $EVAL --model "$W/rft-$ablation/model" --samples 1 --out "$W/rft-$ablation-eval"
done
spct report --table "$W/results.md" --subsets "$W"/{warm,rft,grpo,grpo-norft,rft-nohint,rft-noprinciples,bt,pair,judge}-eval
