"""Paired comparison of `spct eval` runs on the items they both judged: per benchmark, the items
right under only one of two models (strict greedy outcomes: a tie at the top is wrong) and an
exact two-sided sign test on them. Two models judged on the same items share most outcomes, so
their bootstrap intervals overlap long after a real difference shows in the discordant items.

    python benchmarks/paired.py runs/real/eval/models-smollm2-grm-R209 runs/real/eval/cold-start-R209

The first run is the reference; each later run is compared with it. ROC-AUC benchmarks
(ReaLMistake) have no per-item outcome and are left out.
"""

from __future__ import annotations

import argparse
import json
from math import comb
from pathlib import Path

from spct.eval.report import label


def outcomes(folder: Path) -> dict[tuple[str, str], float]:
    """(benchmark, item id) -> strict greedy outcome, for the run's accuracy benchmarks."""
    rows = (json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines())
    return {(r["benchmark"], r["id"]): r["outcomes"]["greedy"] for r in rows if r["outcomes"].get("greedy") is not None}


def sign_test(a: int, b: int) -> float:
    """Exact two-sided p-value of a and b discordant items under 'either model equally likely'."""
    n = a + b
    return min(1.0, 2 * sum(comb(n, i) for i in range(min(a, b) + 1)) / 2**n) if n else 1.0


def compare(reference: dict, other: dict) -> dict[str, dict]:
    """Per benchmark: items both judged, right only under the reference, only under the other."""
    out: dict[str, dict] = {}
    for key in reference.keys() & other.keys():
        row = out.setdefault(key[0], {"items": 0, "only reference": 0, "only other": 0})
        row["items"] += 1
        row["only reference"] += reference[key] > other[key]
        row["only other"] += other[key] > reference[key]
    for row in out.values():
        row["p"] = sign_test(row["only reference"], row["only other"])
    return out


def name(folder: Path) -> str:
    """The run's model as spct's tables name it."""
    return label(json.loads((folder / "results.json").read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="an `spct eval` output folder")
    parser.add_argument("others", type=Path, nargs="+", help="folders to compare with it")
    args = parser.parse_args()
    reference = outcomes(args.reference)
    print(
        f"| benchmark | model | items | right only under {name(args.reference)} | right only under the model "
        "| sign test p |"
    )
    print("|---|---|---|---|---|---|")
    for folder in args.others:
        for bench, row in sorted(compare(reference, outcomes(folder)).items()):
            print(
                f"| {bench} | {name(folder)} | {row['items']} | {row['only reference']} | {row['only other']} "
                f"| {row['p']:.3f} |"
            )


if __name__ == "__main__":
    main()
