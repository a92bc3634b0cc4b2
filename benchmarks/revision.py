"""Critique-guided revision: how often does revising with the GRM's critique make an answer right,
against keeping the first answer (no revision)?

    python benchmarks/revision.py --items 400 --rounds 2      # the miniature: writes docs/revision.md
    python benchmarks/revision.py --policy qwen2.5-coder-0.5b-instruct \\
        --candidates runs/reasoning/candidates.jsonl --limit 50   # GSM8K: writes docs/revision-gsm8k.md

On the miniature the policy is `spct.miniature.policy.ArithmeticPolicy` (it adopts the value the
critique states) and correctness is read by the world's independent verifier. With `--policy` a
real chat model answers GSM8K test problems: its first answer is the first candidate `spct
reasoning --policy` sampled for the problem (same prompt), it revises greedily, and correctness is
the reference's final number; per-problem rounds go to `--out` as they finish (a rerun resumes).
Right or wrong is never read from the GRM.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from report import table
from rich.console import Console
from rich.progress import track

from spct.backends.base import load_backend
from spct.backends.hf import device_name
from spct.core.items import Item
from spct.downstream.revision import LMPolicy, Round, final, revise
from spct.eval.reasoning import is_right, judged, policy_prompt, read_candidates
from spct.grm import DEFAULT_MODEL, GRM, MINIATURE_MODEL
from spct.io import JsonlWriter, done_ids
from spct.miniature.policy import ArithmeticPolicy
from spct.miniature.verify import read
from spct.miniature.world import generate

CHUNK = 16  # questions revised together: one batched policy call and one GRM call a round


def correct(item: Item, answer: str) -> bool:
    return read(item.model_copy(update={"responses": [answer], "best": None, "rating": None}))[0].ok


def miniature(args: argparse.Namespace) -> list[tuple[bool, bool, int]]:
    items = [it for it in generate(args.items, "test", 0) if it.meta["family"] == "arithmetic"]
    grm, policy = GRM(args.model or MINIATURE_MODEL, max_new_tokens=256), ArithmeticPolicy(items)
    rows = []
    for first in track(range(0, len(items), CHUNK), description=f"revising, {CHUNK} items at a time"):
        chunk = items[first : first + CHUNK]
        for it, h in zip(chunk, revise(grm, policy, [it.query for it in chunk], rounds=args.rounds), strict=True):
            rows.append((correct(it, h[0].answer), correct(it, final(h)), len(h) - 1))
    return rows


def gsm8k(args: argparse.Namespace) -> list[tuple[bool, bool, int]]:
    tasks = {t.id: t for t in judged("gsm8k", args.data)}
    given = read_candidates(args.candidates)
    chosen = [tasks[i] for i in given if i in tasks][: args.limit]
    path = args.out / "revision.jsonl"
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [t for t in chosen if t.id not in done_ids(path)]
    if todo:
        grm = GRM(args.model or DEFAULT_MODEL, max_new_tokens=320)
        policy = LMPolicy(load_backend("hf", args.policy), max_new_tokens=512)
        with JsonlWriter(path, append=True) as writer:
            for first in track(range(0, len(todo), CHUNK), description=f"revising, {CHUNK} problems at a time"):
                chunk = todo[first : first + CHUNK]
                queries = [policy_prompt(t) for t in chunk]
                answers = [given[t.id][0] for t in chunk]
                for t, h in zip(chunk, revise(grm, policy, queries, args.rounds, answers=answers), strict=True):
                    right = [is_right(t, r.answer) for r in h]
                    writer.write({"id": t.id, "rounds": [asdict(r) for r in h], "right": right})
    records = {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}
    out = []
    for t in chosen:
        r = records[t.id]
        history = [Round(**x) for x in r["rounds"]]
        out.append((r["right"][0], is_right(t, final(history)), len(history) - 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="the GRM (default: the miniature, or with --policy the embedded default)")
    parser.add_argument("--items", type=int, default=400, help="miniature: test-split items drawn (arithmetic ones)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--policy", help="a chat model that answers and revises GSM8K test problems")
    parser.add_argument("--candidates", type=Path, help="with --policy: spct reasoning's candidates.jsonl")
    parser.add_argument("--limit", type=int, default=50, help="with --policy: problems, in the file's order")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/revision-gsm8k"), help="with --policy: rounds")
    parser.add_argument("--doc", type=Path)
    args = parser.parse_args()

    start = time.monotonic()
    rows = gsm8k(args) if args.policy else miniature(args)
    seconds = time.monotonic() - start
    n = len(rows)
    before, after = sum(b for b, _, _ in rows), sum(a for _, a, _ in rows)
    result = [
        {
            "items": n,
            "right without revision": f"{before} ({100 * before / n:.1f}%)",
            "right after revision": f"{after} ({100 * after / n:.1f}%)",
            "wrong -> right": sum(a and not b for b, a, _ in rows),
            "right -> wrong": sum(b and not a for b, a, _ in rows),
            "revisions tried": sum(r for *_, r in rows),
        }
    ]
    rich_table, text = table("critique-guided revision", result)
    Console().print(rich_table)
    if args.policy:
        doc, body = args.doc or Path("docs/revision-gsm8k.md"), gsm8k_doc(args, seconds, n, text)
    else:
        doc, body = args.doc or Path("docs/revision.md"), miniature_doc(args, seconds, n, text)
    doc.write_text(body)


def miniature_doc(args: argparse.Namespace, seconds: float, n: int, text: str) -> str:
    return f"""# Critique-guided revision on the miniature world

Generated by `python benchmarks/revision.py --items {args.items} --rounds {args.rounds}` with model
`{Path(args.model or MINIATURE_MODEL).name}` ({seconds:.0f} s on {device_name()}): the {n} arithmetic items of the first
{args.items} test-split items. The policy answers with the item's first response (right or wrong as the world made it),
the GRM judges it alone (greedy) and writes a critique, and the policy revises by adopting the value the critique states
for the expression (`spct.miniature.policy.ArithmeticPolicy`); a revision is kept only if the GRM's score rises, for up
to {args.rounds} rounds (`spct.downstream.revision.revise`). Right/wrong is read by the world's independent verifier.

{text}

What it says: the loop runs end to end and every round is recorded; whether revision helps is a
property of the GRM's critiques here (the policy only copies the value they state). This policy is a
stand-in, honest about being one; a real policy on GSM8K: [revision-gsm8k.md](revision-gsm8k.md).
"""


def gsm8k_doc(args: argparse.Namespace, seconds: float, n: int, text: str) -> str:
    return f"""# Critique-guided revision on GSM8K with a real policy

Generated by `python benchmarks/revision.py --policy {args.policy} --candidates {args.candidates}
--limit {args.limit} --rounds {args.rounds}` with the GRM `{Path(args.model or DEFAULT_MODEL).name}` ({seconds:.0f} s on
{device_name()} for what this run computed; problems read back from `{args.out}` are not timed again): {n} GSM8K test
problems. The policy's first answer is its first sampled candidate of `spct reasoning --policy` (T = 0.7, the same
prompt); the GRM judges the answer alone (greedy) and writes principles and a critique; the policy revises greedily
with the critique in its prompt; a revision is kept only if the GRM's score rises, for up to {args.rounds} rounds.
Right/wrong is the reference's final number, never the GRM's verdict.

{text}
"""


if __name__ == "__main__":
    main()
