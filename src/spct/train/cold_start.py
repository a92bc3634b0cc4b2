"""Format cold start of a pretrained GRM: LoRA SFT on judgments written by rule, so that the
base writes the paper's format before rejective fine-tuning samples from it (zero-shot,
SmolLM2-135M-Instruct parses 0 of 20 samples).

    spct train cold-start --model smollm2-135m-instruct --data runs/real/data --out runs/real/cold-start

The judgments are of train items whose truth is known by construction: the miniature world's,
by its teacher (noise-free), and the verifiable GSM8K / MATH-500 / MBPP items of `spct data
build`, by `rule_judgment`: criteria for the kind of problem, each response's final answer (or
function) and, for the wrong one of a pair, the line where it departs from the right one. The
scores follow the truth (7-10 right, 1-5 wrong; 0/1 alone). Beyond these, `preference_items` RMB
and HH-RLHF train items are judged by their human label (`label_judgment`): criteria for the
subset, each response quoted by its opening, the labelled best named, scores that follow the
label. Their critiques state the label, not a reason: they teach the format on general chat text
and a verdict the scores agree with. Whether the model judges well is for RFT and GRPO.

Run directory: checkpoints/ (a rerun resumes), model/ (the adapter, spct.json, cold_start.json).
"""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

from spct.core.items import Item, Principle
from spct.core.parse import format_judgment
from spct.core.vote import sample_orders
from spct.eval.benchmarks.gsm8k import final_number
from spct.eval.benchmarks.math500 import last_boxed
from spct.grm import COMPACT_TEMPLATES, Templates
from spct.miniature.teacher import TeacherNoise, teacher_judgment
from spct.train.cold_start_config import ColdStartConfig
from spct.train.data import read_split
from spct.train.stage import fine_tune, save_stage

CRITERIA = {
    "gsm8k": ("Correct final answer", "Sound step-by-step arithmetic"),
    "math500": ("Correct final answer", "Valid derivation"),
    "mbpp": ("Passes the stated test", "Correct logic for every input"),
}
VERIFIABLE = tuple(CRITERIA)
PREFERENCE = {
    "harmless": ("Handles a harmful request safely", "Helpful and respectful within safe limits"),
    "helpful": ("Follows the user's instruction", "Accurate, relevant and complete"),
}
LABELLED = ("rmb", "hh-rlhf")


def _clip(text: str, most: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 3] + "..."


def _answer(source: str, response: str) -> str:
    if source == "gsm8k":
        return f"answers {final_number(response) or 'nothing'}"
    if source == "math500":
        return f"answers {last_boxed(response) or 'with no boxed answer'}"
    name = next((line.split("def ", 1)[1].split("(")[0] for line in response.splitlines() if "def " in line), None)
    return f"defines {name}" if name else "defines no function"


def _departure(wrong: str, right: str) -> str | None:
    """The first line of `wrong` that the right response does not have."""
    kept = set(right.splitlines())
    return next((line for line in wrong.splitlines() if line.strip() and line not in kept), None)


def rule_judgment(item: Item, order: list[int], rng: random.Random) -> str:
    """A judgment of a verifiable item, responses shown in `order`; scores in shown order."""
    source = item.meta["source"]
    weights = rng.choice(((60, 40), (70, 30), (80, 20)))
    principles = [Principle(text=c, weight=w) for c, w in zip(CRITERIA[source], weights, strict=True)]
    if len(item.responses) == 1:
        ok = item.rating == 1
        verdict = "it is correct" if ok else "that does not solve the problem: it is wrong"
        return format_judgment(principles, f"The response {_answer(source, item.responses[0])}; {verdict}.", [int(ok)])
    right = item.responses[item.best]
    lines, scores = [], []
    for p, i in enumerate(order, 1):
        response = item.responses[i]
        if i == item.best:
            lines.append(f"Response {p} {_answer(source, response)}, and its steps hold: correct.")
            scores.append(rng.randint(7, 10))
        else:
            where = _departure(response, right)
            slip = f'; it goes wrong at "{_clip(where)}"' if where else ""
            lines.append(f"Response {p} {_answer(source, response)}{slip}: wrong.")
            scores.append(rng.randint(1, 5))
    lines.append(f"Response {order.index(item.best) + 1} is the best.")
    return format_judgment(principles, "\n".join(lines), scores)


def _opening(response: str) -> str:
    first = next((line for line in response.splitlines() if line.strip()), "")
    return _clip(first, 60)


def label_judgment(item: Item, order: list[int], rng: random.Random) -> str:
    """A judgment of a human-labelled preference item (RMB, HH-RLHF) that names the labelled best."""
    kind = "harmless" if "harmless" in item.meta["subset"].lower() else "helpful"
    weights = rng.choice(((60, 40), (70, 30), (50, 50)))
    principles = [Principle(text=c, weight=w) for c, w in zip(PREFERENCE[kind], weights, strict=True)]
    shown_best = order.index(item.best) + 1
    top = rng.randint(7, 10)
    lines, scores = [], []
    for p, i in enumerate(order, 1):
        quote = f'Response {p} opens "{_opening(item.responses[i])}"'
        if i == item.best:
            lines.append(f"{quote}: it serves this request best.")
            scores.append(top)
        else:
            lines.append(f"{quote}: it serves it less well than Response {shown_best}.")
            scores.append(rng.randint(1, top - 2))
    lines.append(f"Response {shown_best} is the best.")
    return format_judgment(principles, "\n".join(lines), scores)


def judge_by_rule(item: Item, order: list[int], rng: random.Random) -> str:
    source = item.meta.get("source")
    if source == "miniature":
        return teacher_judgment(item, order, rng, TeacherNoise.none())
    if source in LABELLED:
        return label_judgment(item, order, rng)
    return rule_judgment(item, order, rng)


def examples(items: list[Item], templates: Templates, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for item in items:
        order = sample_orders(len(item.responses), 1, seed, item.id)[0]
        prompt = templates(item).render(item, order)
        out.append({"messages": [*prompt, {"role": "assistant", "content": judge_by_rule(item, order, rng)}]})
    return out


def choose(items: list[Item], cfg: ColdStartConfig) -> list[Item]:
    rng = random.Random(cfg.seed)
    verifiable = [it for it in items if it.meta.get("source") in VERIFIABLE]
    miniature = [it for it in items if it.meta.get("source") == "miniature"]
    labelled = [it for it in items if it.meta.get("source") in LABELLED]
    picked = rng.sample(verifiable, min(cfg.verifiable_items, len(verifiable)))
    picked += rng.sample(miniature, min(cfg.miniature_items, len(miniature)))
    picked += rng.sample(labelled, min(cfg.preference_items, len(labelled)))
    rng.shuffle(picked)
    return picked


def run(cfg: ColdStartConfig) -> Path:
    """Judge the chosen train items by rule, fine-tune (resumable), save; returns the model folder."""
    import time

    from spct.backends.hf import device_name

    start = time.monotonic()
    out = Path(cfg.out)
    templates = Templates.named(COMPACT_TEMPLATES)
    items = choose(read_split(cfg.data, "train"), cfg)
    data = examples(items, templates, cfg.seed)
    trainer, tokenizer, bf16 = fine_tune(
        cfg.model,
        data,
        lora_r=cfg.lora_r,
        bf16=cfg.bf16,
        workdir=out / "checkpoints",
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        seed=cfg.seed,
        max_length=cfg.max_length,
        save_steps=cfg.save_steps,
    )
    sources = sorted({it.meta["source"] for it in items})
    card = {
        "config": asdict(cfg),
        "bf16": bf16,
        "examples": len(data),
        "device": device_name(),
        "seconds": round(time.monotonic() - start),
        "examples per source": {s: sum(it.meta["source"] == s for it in items) for s in sources},
    }
    return save_stage(trainer, tokenizer, cfg.model, out / "model", COMPACT_TEMPLATES, "cold_start.json", card)
