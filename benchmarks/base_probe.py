"""What a base model already knows about RewardBench's held-out pairs, before any SPCT: one forward
pass per pair and order, no generation, so it measures the base's preference and not its format.

    python benchmarks/base_probe.py --model qwen2.5-coder-0.5b-instruct smollm2-135m-instruct --limit 19

For each pair (RewardBench's offline sections: Chat Hard from LLMBar, Reasoning from
HumanEvalPack) the base reads "Which response answers the request better? ... The better response
is Response" in its chat template, and its preference is the log-odds of " 1" over " 2". Each
pair is shown in both orders and the two log-odds are summed with the second's sign flipped, so
a base that always prefers one position scores 50%: what is left is what it knows. A tie (the
two sums equal, frequent in bf16) counts as preferring the pair's second response. Prints
accuracy per section and their mean (RewardBench's offline score, docs/method.md §5) with a
bootstrap 95% interval over pairs, the share of orders in which the first-shown response was preferred,
and writes one line per item to `<out>/<model>.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import torch
from report import table  # benchmarks/report.py
from rich.console import Console
from tqdm import tqdm

from spct.backends.hf import load_causal_lm
from spct.core.defaults import SCORING
from spct.core.items import Item, query_text
from spct.eval.benchmarks import rewardbench
from spct.eval.metrics import bootstrap
from spct.eval.run import subsample

QUESTION = (
    "Which response answers the request better?\n\n[Request]\n{q}\n\n[Response 1]\n{a}\n\n[Response 2]\n{b}\n\n"
    "Answer with 1 or 2 only."
)
ANSWER = "The better response is Response"


def log_odds(lm, tok, answers: tuple[int, int], item: Item, first: int, max_tokens: int) -> float | None:
    """log P(" 1") - log P(" 2") (`answers`: their token ids) with response `first` shown first;
    None if the prompt is too long."""
    a, b = item.responses[first], item.responses[1 - first]
    user = QUESTION.format(q=query_text(item), a=a, b=b)
    text = tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    ids = tok(text + ANSWER, return_tensors="pt", add_special_tokens=False).input_ids
    if ids.shape[1] > max_tokens:
        return None
    logits = lm(ids, logits_to_keep=1).logits[0, -1].float()
    return (logits[answers[0]] - logits[answers[1]]).item()


@torch.inference_mode()
def probe(model: str, items: list[Item], max_tokens: int, out: Path) -> dict:
    lm, tok = load_causal_lm(model, torch.bfloat16)
    lm.eval()
    answers = tuple(tok(f" {d}", add_special_tokens=False).input_ids[-1] for d in (1, 2))
    start, rows = time.perf_counter(), []
    with out.open("w") as f:
        for it in tqdm(items, desc=model):
            shown_first = log_odds(lm, tok, answers, it, 0, max_tokens)
            shown_second = None if shown_first is None else log_odds(lm, tok, answers, it, 1, max_tokens)
            if shown_first is None or shown_second is None:
                continue
            margin = shown_first - shown_second  # > 0: prefers responses[0] in both orders together
            row = {"id": it.id, "subset": it.meta["subset"], "log_odds": [shown_first, shown_second]}
            row["right"] = (margin > 0) == (it.best == 0)
            rows.append(row)
            f.write(json.dumps(row) + "\n")
    by_subset: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_subset[r["subset"]].append(float(r["right"]))
    score = rewardbench.sections(by_subset)
    interval = bootstrap([float(r["right"]) for r in rows])  # over items, as `spct eval` reports it
    first = [v > 0 for r in rows for v in r["log_odds"]]
    return {
        "model": model,
        "pairs": len(rows),
        "left out (too long)": len(items) - len(rows),
        "RewardBench offline": score["score"],
        "95% CI (items)": f"[{100 * interval.low:.1f}, {100 * interval.high:.1f}]",
        **{name: value for name, value in score["sections"].items()},
        "first shown preferred": sum(first) / len(first),
        "seconds": round(time.perf_counter() - start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", default=["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit", type=int, default=19, help="pairs per subset, drawn as `spct eval --limit` draws")
    parser.add_argument("--max-tokens", type=int, default=1536, help="pairs whose prompt is longer are left out")
    parser.add_argument("--out", type=Path, default=Path("runs/base-probe"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = subsample(rewardbench.BENCHMARK.load(args.data), args.limit, SCORING.seed)
    results = [probe(m, items, args.max_tokens, args.out / f"{m}.jsonl") for m in args.model]
    percent = ("RewardBench offline", "Chat Hard", "Reasoning", "first shown preferred")
    shown, markdown = table(f"RewardBench offline, {len(items)} pairs, both orders", results, percent)
    Console().print(shown)
    (args.out / "results.md").write_text(markdown + "\n")


if __name__ == "__main__":
    main()
