"""The real-text training set of a pretrained GRM, built from the public benchmark files by one
command, the same every run:

    spct data build --data ../shared/data --model smollm2-135m-instruct --out runs/real/data

Sources (`meta["source"]`): RMB pairwise and best-of-N, HH-RLHF harmless, the miniature world's
four families, and verifiable items from GSM8K, MATH-500 and MBPP: a right solution against a
verified-wrong variant (as `spct reasoning` synthesises them), or one of the two alone with its
0/1 rating. Every item goes to train, validation or test by a hash of its query text
(`query_split`), so no query is in two splits; `spct reasoning` judges only problems outside
train (`eval.benchmarks.training_split`). Held out, never read here: RewardBench's offline
sections (LLMBar, HumanEvalPack) and ReaLMistake; the build fails if one of their queries
reached a split. An item whose prompt is over `max_prompt_tokens` in the model's chat template is
left out and counted, never cut.

Out: `<out>/{train,validation,test}.jsonl` (items) and `<out>/stats.json` (counts per source and
split, and how many were left out as too long).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from spct.core.items import Item, query_text
from spct.core.prompts import PromptTemplate
from spct.eval.benchmarks import (
    TRAINING_SPLITS,
    Task,
    gsm8k,
    hh_rlhf,
    math500,
    mbpp,
    pair,
    realmistake,
    rewardbench,
    rewardbench2,
    rmb,
    training_split,
)
from spct.eval.reasoning import wrong_variants
from spct.miniature.world import generate

P_SINGLE = 0.3  # share of verifiable problems judged as one response with a 0/1 rating


def query_split(item: Item) -> str:
    """train, validation or test, by a hash of the whole conversation: fixed for a query wherever it occurs."""
    return training_split(query_text(item))


def verifiable(problems: list[Task], source: str, seed: int, limit: int | None = None) -> Iterator[Item]:
    """One item per problem (the first `limit`) that has a verified-wrong variant: a pair (right
    vs wrong) or a lone response. Wrong MATH answers are drawn from all the problems."""

    def one(problem: Task) -> Item | None:
        rng = random.Random(f"{seed}-{problem.id}")
        wrong = wrong_variants(problem, problems, rng, most=1)
        if not wrong:
            return None
        right = problem.reference
        if rng.random() < P_SINGLE:
            good = rng.random() < 0.5
            return Item(
                id=f"{problem.id}-single",
                query=problem.query,
                responses=[right if good else wrong[0]],
                rating=int(good),
                meta={"source": source, "subset": f"{source} single"},
            )
        return pair(f"{problem.id}-pair", problem.query, right, wrong[0], source=source, subset=f"{source} pair")

    with ThreadPoolExecutor(4) as pool:  # MBPP's checks run the tests in subprocesses
        for item in tqdm(pool.map(one, problems[:limit]), total=len(problems[:limit]), desc=source, leave=False):
            if item is not None:
                yield item


def sources(root: Path, miniature_items: int, seed: int, limit: int | None) -> Iterator[Item]:
    for source, load in (("rmb", rmb.load), ("hh-rlhf", hh_rlhf.load)):
        for it in load(root)[:limit]:
            it.meta["source"] = source
            yield it
    for source, load_problems in (("gsm8k", gsm8k.load), ("math500", math500.load), ("mbpp", mbpp.load)):
        yield from verifiable(load_problems(root), source, seed, limit)
    for split, share in TRAINING_SPLITS.items():  # the world's own split is by its query fill
        for it in generate(round(miniature_items * share), split, seed):
            it.meta.update(source="miniature", subset=f"miniature {it.meta['family']}", split=split)
            yield it


def held_out_queries(root: Path) -> set[str]:
    """The queries no training item may share: the held-out benchmarks', and RewardBench 2's where
    its files are at hand (evaluation only, never trained on)."""
    items = rewardbench.load_llmbar(root) + rewardbench.load_hep(root) + realmistake.load(root)
    if (root / "reward-bench-2").exists():
        items += rewardbench2.load(root)
    return {query_text(it) for it in items}


def build(
    root: str | Path,
    model: str,
    out: str | Path,
    *,
    templates: dict[str, str],
    max_prompt_tokens: int = 1024,
    miniature_items: int = 4000,
    seed: int = 0,
    limit: int | None = None,
) -> dict:
    """Write the three splits and their statistics; returns the statistics. `limit`: the first
    items (problems) of each source only, for a quick look."""
    from transformers import AutoTokenizer

    from spct.backends.pretrained import resolve

    root, out = Path(root), Path(out)
    tokenizer = AutoTokenizer.from_pretrained(resolve(model))
    pair_template, single_template = (
        PromptTemplate.load(templates["template"]),
        PromptTemplate.load(templates.get("binary_template", templates["template"])),
    )
    held_out = held_out_queries(root)
    counts: Counter = Counter()
    too_long: Counter = Counter()
    out.mkdir(parents=True, exist_ok=True)
    files = {s: (out / f"{s}.jsonl").open("w") for s in TRAINING_SPLITS}
    try:
        for item in sources(root, miniature_items, seed, limit):
            text = query_text(item)
            if text in held_out:
                raise ValueError(f"item {item.id}: its query is in a held-out benchmark; it must never be trained on")
            split = item.meta.get("split") or query_split(item)
            template = single_template if len(item.responses) == 1 else pair_template
            prompt = template.render(item, list(range(len(item.responses))))
            n_tokens = len(
                tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)[
                    "input_ids"
                ]
            )
            key = f"{item.meta['source']} {split}"
            if n_tokens > max_prompt_tokens:
                too_long[key] += 1
                continue
            item.meta["split"] = split
            files[split].write(item.model_dump_json(exclude_none=True) + "\n")
            counts[key] += 1
    finally:
        for f in files.values():
            f.close()
    stats = {
        "model": model,
        "max_prompt_tokens": max_prompt_tokens,
        "templates": templates,
        "seed": seed,
        "limit": limit,
        "kept": dict(sorted(counts.items())),
        "too long (left out)": dict(sorted(too_long.items())),
        "held-out queries checked": len(held_out),
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats
