"""Rejective fine-tuning (SPCT stage 1, docs/method.md §4): sample, reject, hint, then SFT.

    spct train rft --model src/spct/models/miniature-grm --out runs/rft --items 2000
    spct train rft --config configs/rft.yaml          # any field from YAML, CLI flags override

For every training item the current GRM samples `n_samples` judgments through the scoring core
(same templates, shuffled orders, parser). A trajectory is kept when its scores single out the
labelled best response (or equal the rating for n = 1); an item whose trajectories are all
correct is too easy and dropped; an item with none correct gets hinted sampling (the best
response named in the prompt) and keeps a hinted trajectory that is correct. Beyond the paper, a
right trajectory is still rejected when it loops (two score blocks, a line repeated) or when its
scores only number the responses in the order shown (`\\boxed{1, 2}`: right whenever the best
happens to be shown last, how a 135M GRM learnt the position baseline, docs/real-grm.md). The kept
trajectories, with the UNhinted prompt, are the SFT data (loss on the judgment only).

Run directory:
    trajectories.jsonl   one line per item, every trajectory with its verdict (appended; resumes)
    stats.json           acceptance per family, hinted share, too-easy share
    checkpoints/         SFT checkpoints (a rerun resumes from the last)
    model/               the fine-tuned GRM, its spct.json and rft.json (config, stats, loss log)
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path

from rich.progress import Progress

from spct.core.drift import principle_drift
from spct.core.items import Item, Sample, query_text
from spct.core.vote import is_correct, make_sample
from spct.grm import GRM, Templates, model_templates
from spct.io import JsonlWriter, done_ids
from spct.train.data import training_items
from spct.train.rft_config import RFTConfig
from spct.train.stage import fine_tune, save_stage

ANALYSIS = re.compile(r"^[#*\s]*Analysis[*\s]*:", re.IGNORECASE | re.MULTILINE)
SCORE_LINE = re.compile(r"Scores?[*\s]*:[*\s]*\\boxed\{", re.IGNORECASE)
SCORE_BOX = re.compile(r"\\boxed\{\s*([+-]?\d+(?:\s*,\s*[+-]?\d+)*)\s*\}")
LABEL = re.compile(r"\bResponse\s+(\d+)\b")
# Words that place a response without its label ("the first one", "Responses 1 and 2"): a text
# with them cannot be relabelled by renaming labels alone.
UNLABELLED_POSITION = re.compile(
    r"\b(?:first|second|third|fourth|last|former|latter|above|below)\b|\bResponses\b|\d\s*(?:and|or|&)\s*\d",
    re.IGNORECASE,
)


def looped(text: str) -> str | None:
    """Why a judgment is no text to imitate even when its scores are right, or None."""
    if (blocks := len(SCORE_LINE.findall(text))) > 1:
        return f"looped: {blocks} score blocks"
    lines = Counter(line.strip() for line in text.splitlines() if len(line.strip()) > 10)
    if lines and (most := lines.most_common(1)[0][1]) >= 3:
        return f"looped: a line written {most} times"
    return None


def restates_order(scores: list[int] | None, order: list[int]) -> str | None:
    """Why scores that only number the responses as shown (1, 2, ... or n, ..., 1: the slot labels
    copied into the box, the habit that pins a small GRM to the position baseline) are no
    judgment to imitate even when they single out the best response, or None. Beyond the paper."""
    n = len(order)
    if n < 2 or scores is None:
        return None
    shown = [scores[i] for i in order]
    return "scores restate the order shown" if shown in (list(range(1, n + 1)), list(range(n, 0, -1))) else None


def mirrored(text: str, order: list[int]) -> list[tuple[str, list[int]]]:
    """The judgment `text` of the responses shown in `order`, rewritten for each other rotation of
    that order: "Response j" renamed to where its response is shown there, the scores of the
    last box permuted to match. [] where that would not be the same judgment: one response, a
    position named without its label, a label out of range, no box of len(order) scores."""
    n = len(order)
    boxes = list(SCORE_BOX.finditer(text))
    labels = [int(j) for j in LABEL.findall(text)]
    if n < 2 or not boxes or UNLABELLED_POSITION.search(text) or any(not 1 <= j <= n for j in labels):
        return []
    box = boxes[-1]
    scores = [int(v) for v in box.group(1).split(",")]
    if len(scores) != n:
        return []
    out = []
    for r in range(1, n):
        shown = order[r:] + order[:r]
        new_label = {j + 1: shown.index(order[j]) + 1 for j in range(n)}

        def relabel(part: str, new_label: dict[int, int] = new_label) -> str:
            return LABEL.sub(lambda m: f"Response {new_label[int(m.group(1))]}", part)

        new_scores = ", ".join(str(scores[order.index(o)]) for o in shown)
        out.append((relabel(text[: box.start()]) + f"\\boxed{{{new_scores}}}" + relabel(text[box.end() :]), shown))
    return out


def flaw(sample: Sample) -> str | None:
    """Why a right trajectory is still no text to imitate (it loops, or its scores are the slot
    labels), or None."""
    return looped(sample.text) or restates_order(sample.scores, sample.order)


def acceptable(sample: Sample, item: Item) -> bool:
    """Right by its scores and without a `flaw`: what hinting is for when no unhinted sample is."""
    return is_correct(sample.scores, item) and flaw(sample) is None


def verdicts(item: Item, unhinted: list[Sample], hinted: list[Sample]) -> list[dict]:
    """Every trajectory of one item with `accepted` and the reason, by the rules of docs/method.md §4
    (and the loop and slot-label rules of this module's docstring)."""
    correct = [is_correct(s.scores, item) for s in unhinted]
    too_easy = all(c and restates_order(s.scores, s.order) is None for s, c in zip(unhinted, correct, strict=True))
    out = []
    for s, ok, hint in [(s, c, False) for s, c in zip(unhinted, correct, strict=True)] + [
        (s, is_correct(s.scores, item), True) for s in hinted
    ]:
        if s.failure:
            reason = f"parse failure ({s.failure.split(':', 1)[0]})"
        elif not ok:
            reason = "incorrect"
        elif why := flaw(s):
            reason = why
        elif too_easy and not hint:
            reason = "too easy: every unhinted trajectory correct"
        else:
            reason = "correct"
        out.append(
            {
                "hinted": hint,
                "order": s.order,
                "text": s.text,
                "scores": s.scores,
                "correct": ok,
                "accepted": reason == "correct",
                "reason": reason,
            }
        )
    return out


def sample_trajectories(cfg: RFTConfig, grm: GRM, items: list[Item], path: Path) -> None:
    """Append one record per item to `path`; items already there are skipped (resume)."""
    done = done_ids(path)
    todo = [it for it in items if it.id not in done]
    with JsonlWriter(path, append=True) as writer, Progress() as bar:
        task = bar.add_task("sampling trajectories", total=len(items), completed=len(items) - len(todo))
        for start in range(0, len(todo), cfg.sample_batch):
            batch = todo[start : start + cfg.sample_batch]
            drawn = grm.draw(batch, 0, cfg.n_samples, cfg.temperature)
            need = [i for i, ss in enumerate(drawn) if not any(acceptable(s, batch[i]) for s in ss)]
            hints: dict[int, list[Sample]] = {}
            if cfg.hinted and need:
                stop = cfg.n_samples + cfg.hint_samples
                hinted = grm.draw([batch[i] for i in need], cfg.n_samples, stop, cfg.temperature, hint=True)
                hints = dict(zip(need, hinted, strict=True))
            for i, item in enumerate(batch):
                writer.write(
                    {
                        "id": item.id,
                        "family": item.meta.get("family") or item.meta.get("source") or "other",
                        "n": len(item.responses),
                        "trajectories": verdicts(item, drawn[i], hints.get(i, [])),
                    }
                )
                bar.advance(task)


def statistics(records: list[dict]) -> dict:
    """Per family (the miniature's) or source (`spct data build`'s) and overall: how many
    trajectories were kept, and why the others were not."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r["family"] != "all":  # the name an earlier version wrote for items of no family
            groups[r["family"]].append(r)
        groups["all"].append(r)
    stats = {}
    for family, group in sorted(groups.items()):
        ts = [t for r in group for t in r["trajectories"]]
        kept = [t for t in ts if t["accepted"]]
        reasons: dict[str, int] = defaultdict(int)
        for t in ts:
            reasons[t["reason"]] += 1
        stats[family] = {
            "items": len(group),
            "trajectories": len(ts),
            "accepted": len(kept),
            "acceptance rate": len(kept) / len(ts) if ts else 0.0,
            "items kept": sum(any(t["accepted"] for t in r["trajectories"]) for r in group),
            "items too easy": sum(any(t["reason"].startswith("too easy") for t in r["trajectories"]) for r in group),
            "items hinted": sum(any(t["hinted"] for t in r["trajectories"]) for r in group),
            "hinted share of accepted": sum(t["hinted"] for t in kept) / len(kept) if kept else 0.0,
            "reasons": dict(reasons),
        }
    return stats


def drift(records: list[dict], items: dict[str, Item], templates: Templates, batch: int) -> dict:
    """The principles' drift (core/drift.py) of the unhinted trajectories, what the model writes by
    itself, per sampling batch and overall, and of the kept ones, what SFT trains on."""

    def of(rs: list[dict], keep) -> dict[str, float]:
        judged = []
        for r in rs:
            item = items[r["id"]]
            for t in r["trajectories"]:
                if keep(t):
                    sample = make_sample(t["text"], t["order"], score_range=templates(item).score_range)
                    judged.append((query_text(item), sample))
        return principle_drift(judged, templates(items[rs[0]["id"]]).score_range) if rs else {}

    def unhinted(t: dict) -> bool:
        return not t["hinted"]

    return {
        "sampled": of(records, unhinted),
        "kept": of(records, lambda t: t["accepted"]),
        "sampled per batch": [of(records[i : i + batch], unhinted) for i in range(0, len(records), batch)],
    }


def without_principles(text: str) -> str:
    """A judgment from its analysis on: what a GRM that generates no principles writes."""
    match = ANALYSIS.search(text)
    return text[match.start() :].lstrip() if match else text


def sft_data(
    templates: Templates, items: dict[str, Item], records: list[dict], principles: bool = True, mirror: bool = False
) -> list[dict]:
    """Kept trajectories as chat examples with the unhinted prompt in the model's own `templates`:
    the model must learn to judge without being told the answer. `mirror`: each also in the
    other rotations of its order (`mirrored`)."""
    examples = []
    for r in records:
        item = items[r["id"]]
        for t in r["trajectories"]:
            if not t["accepted"]:
                continue
            text = t["text"] if principles else without_principles(t["text"])
            for judgment, order in [(text, t["order"]), *(mirrored(text, t["order"]) if mirror else [])]:
                prompt = templates(item).render(item, order)
                examples.append({"messages": [*prompt, {"role": "assistant", "content": judgment}]})
    return examples


def run(cfg: RFTConfig) -> Path:
    """Sample (resumable), write statistics, fine-tune, save; returns the model directory.
    Under `accelerate launch` the main process samples while the others wait, then all train."""
    import torch
    from accelerate import PartialState

    from spct.backends.pretrained import resolve

    state = PartialState(cpu=not torch.cuda.is_available())  # cpu: gloo across torchrun's processes
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    items = training_items(cfg.data, cfg.items, cfg.seed)
    grm = GRM(cfg.model, seed=cfg.seed, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.sample_batch * cfg.n_samples)
    if state.is_main_process:
        sample_trajectories(cfg, grm, items, out / "trajectories.jsonl")
    state.wait_for_everyone()
    records = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    stats = statistics(records)
    stats["principles"] = drift(records, {it.id: it for it in items}, grm.templates, cfg.sample_batch)
    examples = sft_data(grm.templates, {it.id: it for it in items}, records, cfg.principles, cfg.mirror)
    if not examples:
        raise ValueError(f"no trajectory was accepted out of {stats['all']['trajectories']}: nothing to fine-tune on")
    del grm  # the sampler's copy of the model

    trainer, tokenizer, _ = fine_tune(
        cfg.model,
        examples,
        lora_r=cfg.lora_r,
        bf16=cfg.bf16,
        workdir=out / "checkpoints",
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        seed=cfg.seed,
        save_steps=cfg.save_steps,
        max_length=cfg.max_length,
    )
    if state.is_main_process:
        (out / "stats.json").write_text(json.dumps(stats, indent=1))
    kept = stats["all"]["accepted"]
    card = {"config": asdict(cfg), "examples": len(examples), "of them mirrored": len(examples) - kept, "stats": stats}
    return save_stage(
        trainer, tokenizer, cfg.model, out / "model", model_templates(resolve(cfg.model)), "rft.json", card
    )
