"""What a GRM's greedy critiques are like, from `spct eval` runs: beyond accuracy, whether each
critique is about its item, whether the model favours a shown position, and whether its scores
contradict its own stated verdict. Read on the items every run judged, on any benchmark (the
items as each run's results.jsonl holds them).

    python benchmarks/critique_quality.py runs/real/eval/cold-start-v2-held-out runs/real/eval/rft-held-out-L10

- parsed: share of judgments with a valid score block.
- about the item: share of critiques sharing a word of 5+ letters with the item's query or
  responses (a generic "Response 1 is the best. It provides a clear answer." shares none).
- first shown: of the parsed pairs, the share whose top score went to the response shown first
  (an unbiased judge of these seeded orders is near 50%).
- contradicts itself: of the parsed judgments whose analysis names "Response k is the best", the
  share whose scores single out another response.
- second-shown baseline: of the labelled pairs, the share whose better response was shown second:
  the accuracy of a judge that always prefers the second position, with these orders.
- drift (specificity, shared verbatim, contradicted): `core/drift.py`'s numbers, the ones GRPO and
  RFT log per step, over the parsed pairs (1..10 scores): how much more the principles share with
  their own query than with the others, the share of principle texts written for two or more
  queries, and the share of responses whose score the critique contradicts.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from spct.core.drift import named_best, principle_drift
from spct.core.items import Item, Sample, query_text


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{5,}", text.lower()))


def measure(rows: list[dict], items: dict) -> dict[str, float]:
    parsed = [r for r in rows if r["n_valid"]]
    about, first, named, contradicts, second_best = 0, [], 0, 0, []
    pairs = [
        (query_text(items[r["id"]]), Sample.model_validate(r["samples"][0])) for r in parsed if r["n_responses"] == 2
    ]
    drift = principle_drift(pairs, (1, 10))
    for r in rows:
        item, sample = items[r["id"]], r["samples"][0]
        query = item.query if isinstance(item.query, str) else item.query[-1].content
        about += bool(words(sample["critique"] or sample["text"]) & (words(query) | words(" ".join(item.responses))))
        if item.best is not None and len(item.responses) == 2:
            second_best.append(sample["order"][1] == item.best)
    for r in parsed:
        sample = r["samples"][0]
        shown = [sample["scores"][i] for i in sample["order"]]  # scores in the order shown
        if len(shown) == 2 and shown[0] != shown[1]:
            first.append(shown[0] > shown[1])
        best = named_best(sample["critique"] or "")
        if best is not None and len(shown) > 1:
            named += 1
            top = max(shown)
            contradicts += not (shown.count(top) == 1 and shown.index(top) + 1 == best)
    return {
        "items": len(rows),
        "parsed": len(parsed) / len(rows),
        "about the item": about / len(rows),
        "first shown": sum(first) / len(first) if first else float("nan"),
        "contradicts itself": contradicts / named if named else float("nan"),
        "verdicts named": named,
        "second-shown baseline": sum(second_best) / len(second_best) if second_best else float("nan"),
        "pairs": len(second_best),
        "specificity": drift.get("principles/specificity", float("nan")),
        "shared verbatim": drift.get("principles/shared_verbatim", float("nan")),
        "contradicted": drift.get("principles/contradictions", float("nan")),
    }


def greedy_judgments(folder: Path) -> list[dict]:
    """The greedy judgments of one `spct eval` run, every benchmark it judged."""
    paths = sorted(folder.glob("*/greedy.jsonl"))
    return [json.loads(line) for path in paths for line in path.read_text().splitlines()]


def judged_items(folder: Path) -> dict[str, Item]:
    """The items of one `spct eval` run, as its results.jsonl holds them (responses in the order
    of the item, the label)."""
    items = (Item.model_validate_json(line) for line in (folder / "results.jsonl").read_text().splitlines())
    return {it.id: it for it in items}  # the record's other fields (outcomes, judgments) are ignored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="`spct eval` output folders")
    args = parser.parse_args()
    items = {k: it for folder in args.runs for k, it in judged_items(folder).items()}
    runs = {folder: greedy_judgments(folder) for folder in args.runs}
    common = set.intersection(*({r["id"] for r in rows} for rows in runs.values()))
    if not common:
        raise SystemExit("no item was judged greedy by every run: compare runs of the same items")
    print(f"{len(common)} items judged by every run\n")
    print(
        "| run | items | parsed | about the item | first shown | contradicts itself (of verdicts named) "
        "| second-shown baseline (of pairs) | specificity | shared verbatim | contradicted |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for folder, rows in runs.items():
        m = measure([r for r in rows if r["id"] in common], items)
        print(
            f"| {folder.name} | {m['items']} | {m['parsed']:.0%} | {m['about the item']:.0%} | {m['first shown']:.0%} "
            f"| {m['contradicts itself']:.0%} (of {m['verdicts named']}) "
            f"| {m['second-shown baseline']:.1%} (of {m['pairs']}) | {m['specificity']:.3f} "
            f"| {m['shared verbatim']:.0%} | {m['contradicted']:.0%} |"
        )


if __name__ == "__main__":
    main()
