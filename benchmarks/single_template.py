"""Which template should a GRM judge single responses with: its card's (`spct.json`
`binary_template`, the paper's 0/1 variant) or its pair template's 1..10 scale? Chosen on the
validation split's lone responses, then read on ReaLMistake (held out). docs/real-grm.md.

    python benchmarks/single_template.py --data runs/real/data --out runs/single-template.json

Greedy, one judgment per item and template; prints parse rate, the scores written and ROC-AUC
(an unparsed judgment ranks lowest, as `spct eval` ranks it).
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spct.backends.hf import HFBackend
from spct.core.items import Item
from spct.eval.benchmarks import realmistake
from spct.eval.metrics import roc_auc
from spct.eval.run import subsample, within
from spct.grm import DEFAULT_MODEL, GRM


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--data", type=Path, default=Path("runs/real/data"), help="`spct data build`'s folder")
    ap.add_argument("--benchmarks", type=Path, default=Path("../shared/data"))
    ap.add_argument("--validation-items", type=int, default=48)
    ap.add_argument("--limit", type=int, default=10, help="ReaLMistake items per subset")
    ap.add_argument("--other", default="compact", help="the template to compare with the card's")
    ap.add_argument("--max-prompt-tokens", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path("runs/single-template.json"))
    args = ap.parse_args()

    backend = HFBackend(args.model)
    validation = map(Item.model_validate_json, (args.data / "validation.jsonl").read_text().splitlines())
    lone = [it for it in validation if len(it.responses) == 1]
    random.Random(0).shuffle(lone)
    sets = {
        "validation": within(lone, backend, args.max_prompt_tokens)[: args.validation_items],
        "realmistake": subsample(
            within(realmistake.BENCHMARK.load(args.benchmarks), backend, args.max_prompt_tokens), args.limit, 0
        ),
    }
    table = Table("items", "template", "parsed", "scores written", "ROC-AUC")
    results = {}
    for name, items in sets.items():
        labels = [it.rating for it in items]
        for template in (None, args.other):
            grm = GRM(backend=backend, template=template, max_new_tokens=320)
            scores = [j.samples[0].scores[0] if j.samples[0].scores else None for j in grm.score_items(items, k=1)]
            auc = roc_auc([float("-inf") if s is None else s for s in scores], labels)
            parsed = sum(s is not None for s in scores)
            label = template or "card"
            results[f"{name} / {label}"] = {"ids": [it.id for it in items], "scores": scores, "roc_auc": auc}
            written = ", ".join(f"{s}: {n}" for s, n in Counter(s for s in scores if s is not None).most_common())
            table.add_row(
                f"{name}, {len(items)}", label, f"{parsed} ({parsed / len(items):.0%})", written, f"{auc:.1%}"
            )
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
