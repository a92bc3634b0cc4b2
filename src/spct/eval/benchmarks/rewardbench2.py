"""RewardBench 2 (Malik et al. 2025) in its published format: one record per prompt with `chosen`
and `rejected` lists (mostly 1 and 3: best-of-4), `num_correct` and `subset` (Factuality, Precise
IF, Math, Safety, Focus, Ties). Files under `<data>/reward-bench-2/` (Parquet, JSON, JSONL or
CSV), else the hub's `allenai/reward-bench-2` test split. Evaluation only: never train on it.

Scoring as reward-bench 2 publishes it:
- every subset but Ties: the first chosen response must have the top reward; a tie at the top
  shares the point (1 / the number tied), whatever `spct eval --strict` says;
- Ties: each prompt comes as a `ref:N` record (one correct answer) and a `tied:N` record (several
  equally correct ones). spct judges both as ONE item, every distinct answer once, and scores it
  0.30 tied accuracy + 0.30 ref accuracy + 0.20 (correct-incorrect gap > spread of the correct
  answers) + 0.20 (the same with the smaller of the two gaps) + 0.01 tanh(that gap / spread - 1),
  the per-prompt terms whose mean is reward-bench 2's Ties score;
- the total: the mean of the six subset scores, as on the leaderboard.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from spct.core.items import Item
from spct.eval.benchmarks import Benchmark, field, listed, mean_of_subsets, records

HUB = "allenai/reward-bench-2"
TIES = "Ties"
LEFT_OUT: dict[str, int] = {}  # Ties prompts the last load left out, by reason


def _record(where: str, record: dict) -> dict:
    return {
        "id": str(field(record, "id", where)),
        "prompt": field(record, "prompt", where),
        "chosen": listed(field(record, "chosen", where), where, "chosen"),
        "rejected": listed(field(record, "rejected", where), where, "rejected"),
        "subset": field(record, "subset", where),
        "where": where,
    }


def _ties_item(prompt_id: str, ref: dict, tied: dict) -> Item:
    """One item of a Ties prompt: its distinct answers, with which are correct in each record."""
    responses: list[str] = []

    def indices(texts: list[str]) -> list[int]:
        for t in texts:
            if t not in responses:
                responses.append(t)
        return [responses.index(t) for t in texts]

    groups = {
        "ref_correct": indices(ref["chosen"]),
        "ref_incorrect": indices(ref["rejected"]),
        "tied_correct": indices(tied["chosen"]),
        "tied_incorrect": indices(tied["rejected"]),
    }
    return Item(id=f"ties-{prompt_id}", query=ref["prompt"], responses=responses, meta={"subset": TIES, **groups})


def load(root: str | Path) -> list[Item]:
    """Items of every subset; a Ties prompt lacking its ref or tied record, or whose tied record
    has fewer than two correct answers, is left out and counted in `LEFT_OUT`."""
    LEFT_OUT.clear()
    items, ties = [], defaultdict(dict)
    for where, raw in records(Path(root) / "reward-bench-2", HUB, "test"):
        r = _record(where, raw)
        if r["subset"] == TIES:
            kind, _, prompt_id = r["id"].partition(":")
            if kind not in ("ref", "tied") or not prompt_id:
                raise ValueError(f"{where}: field 'id': a Ties id is ref:N or tied:N, got {r['id']!r}")
            ties[prompt_id][kind] = r
            continue
        if not r["chosen"] or not r["rejected"]:
            raise ValueError(f"{where}: fields 'chosen' and 'rejected' need at least one response each")
        responses = r["chosen"] + r["rejected"]
        meta = {"subset": r["subset"]}
        items.append(Item(id=f"rb2-{r['id']}", query=r["prompt"], responses=responses, best=0, meta=meta))
    for prompt_id, pair in ties.items():
        if "ref" not in pair or "tied" not in pair:
            reason = "Ties prompts without both a ref and a tied record"
        elif len(pair["tied"]["chosen"]) < 2 or not pair["tied"]["rejected"] or not pair["ref"]["rejected"]:
            reason = "Ties prompts with fewer than two tied correct answers or no incorrect one"
        else:
            items.append(_ties_item(prompt_id, pair["ref"], pair["tied"]))
            continue
        LEFT_OUT[reason] = LEFT_OUT.get(reason, 0) + 1
    return items


def _stats(rewards: list[float], correct: list[int], incorrect: list[int]) -> tuple[bool, float, float]:
    """(every correct answer above the best wrong one, spread of the correct answers, the gap)."""
    right = [rewards[i] for i in correct]
    gap = min(right) - max(rewards[i] for i in incorrect)
    return gap > 0, max(right) - min(right), gap


def value(rewards: list[int] | None, item: Item) -> float:
    """An item's outcome under reward-bench 2's rules (the module's docstring); 0 when nothing parsed."""
    if rewards is None:
        return 0.0
    meta = item.meta
    if meta["subset"] != TIES:
        top = max(rewards)
        tied = [i for i, r in enumerate(rewards) if r == top]
        return 1 / len(tied) if 0 in tied else 0.0
    ref_ok, _, ref_gap = _stats(rewards, meta["ref_correct"], meta["ref_incorrect"])
    tied_ok, spread, tied_gap = _stats(rewards, meta["tied_correct"], meta["tied_incorrect"])
    hard = min(ref_gap, tied_gap)
    # reward-bench 2 divides by the spread in numpy: x / 0 is +-inf (tanh +-1) and 0 / 0 is nan, read as 0
    margin = math.tanh(hard / spread - 1) if spread else float(hard > 0) - float(hard < 0)
    return 0.3 * tied_ok + 0.3 * ref_ok + 0.2 * (tied_gap > spread) + 0.2 * (hard > spread) + 0.01 * margin


BENCHMARK = Benchmark("rewardbench2", load, aggregate=mean_of_subsets, value=value, left_out=LEFT_OUT)
