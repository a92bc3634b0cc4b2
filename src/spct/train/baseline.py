"""The scalar baselines of the paper's comparison (docs/method.md §6), trained on the same labelled items
as SPCT so that the table compares methods, not data.

    spct train baseline --kind bt --out runs/bt-rm        # Bradley-Terry: one logit per response
    spct train baseline --kind pair --out runs/pair-rm    # pairwise: P(Response 1 is better)
    spct train baseline --kind judge --trajectories runs/rft/trajectories.jsonl --out runs/judge
    spct train baseline --kind cloud --out runs/cloud     # critique, then a Bradley-Terry value

*bt*: the user's conversation with the response as the assistant turn, one logit, trained with
TRL's RewardTrainer on (best, other) pairs of every item with n >= 2. A lone response (n = 1) has
no pair to learn from; its rating is read by a threshold on the logit, fitted on the training
items with one response (stored in the model's `baseline.json`).
*pair*: the meta RM's user turn showing two responses, one logit for "Response 1 is better",
trained with binary cross-entropy on both orders of every (best, other) pair. A list of n
responses is judged by every ordered pair (n (n - 1) forward passes); response i's reward is its
expected number of wins. It cannot rate a lone response.
*cloud*: critique-then-value in the manner of CLoud: the GRM `base` first writes its critique of
the response alone (its single-response template, greedy, the score line removed), and the
Bradley-Terry head reads the conversation, the response and that critique.
*judge*: LLM-as-a-judge, generative like the GRM, but it names the best response's index in
`\boxed{i}` instead of scoring each (docs/method.md §1). Its data are the GRM's RFT data: the accepted
trajectories, their score line rewritten to the index of the best response, fine-tuned from `base`
(the warm start); judged greedily in one seeded shuffled order, like the GRM's greedy row.

`rewards(model, items)` gives one reward per response, comparable within an item, for evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, replace
from importlib import resources
from itertools import pairwise, permutations
from pathlib import Path

from spct.backends.pretrained import resolve
from spct.core.items import Item
from spct.core.parse import parse_judgment
from spct.core.prompts import PromptTemplate
from spct.core.vote import is_correct, sample_orders
from spct.scaling.meta_rm import META_PROMPT
from spct.scaling.scalar import Messages, ScalarRM
from spct.train.baseline_config import BaselineConfig
from spct.train.cards import loss_log, write_cards
from spct.train.checkpoints import resume_point
from spct.train.data import training_items
from spct.train.heads import train_bce_head

KINDS = ("bt", "pair", "judge", "cloud")
View = Callable[[Item, int], Messages]  # what a one-response scalar RM reads of response i of an item
JUDGE = PromptTemplate.load(resources.files("spct.templates") / "judge.jinja")
_SCORE_LINE = re.compile(r"[#*\s]*Scores?[*\s]*:[^\n]*\s*$", re.IGNORECASE)


def answered(item: Item, response: int) -> Messages:
    """The BT RM's input: the conversation, then the response as the assistant's turn."""
    return [m.model_dump() for m in item.conversation] + [{"role": "assistant", "content": item.responses[response]}]


def critiqued_by(grm: str, items: list[Item]) -> View:
    """CLoud's input: `answered` followed by the GRM's critique of that response alone, all
    critiques written up front in one batched greedy pass."""
    from spct.grm import GRM

    alone = [Item(id=f"{it.id}#{i}", query=it.query, responses=[r]) for it in items for i, r in enumerate(it.responses)]
    drawn = GRM(grm).draw(alone, 0, 1, temperature=0.0)
    critique = {one.id: _SCORE_LINE.sub("", ss[0].text).strip() for one, ss in zip(alone, drawn, strict=True)}

    def view(item: Item, response: int) -> Messages:
        return [
            *answered(item, response),
            {"role": "user", "content": "Critique the response."},
            {"role": "assistant", "content": critique[f"{item.id}#{response}"]},
        ]

    return view


def shown_pair(item: Item, first: int, second: int) -> Messages:
    """The pairwise RM's input: the query and two of the responses, `first` shown as Response 1."""
    return META_PROMPT.render(item, [first, second])


def _others(item: Item) -> list[int]:
    return [j for j in range(len(item.responses)) if j != item.best]


def run(cfg: BaselineConfig) -> Path:
    if cfg.kind not in KINDS:
        raise ValueError(f"kind: {cfg.kind!r}; choose one of {', '.join(KINDS)}")
    out = Path(cfg.out)
    card = {"config": asdict(cfg), "kind": cfg.kind}  # the base as named, not its local folder
    cfg = replace(cfg, base=resolve(cfg.base))
    items = training_items(cfg.data, cfg.items, cfg.seed)
    ranked = [it for it in items if it.best is not None]
    if cfg.kind == "judge":
        return _train_judge(cfg, {it.id: it for it in ranked}, out, card)
    if cfg.kind == "pair":
        examples = [
            ex
            for it in ranked
            for j in _others(it)
            for ex in ((shown_pair(it, it.best, j), 1), (shown_pair(it, j, it.best), 0))
        ]
        return train_bce_head(
            cfg.base,
            examples,
            out,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            max_length=cfg.max_length,
            save_steps=cfg.save_steps,
            seed=cfg.seed,
            card=card,
            card_name="baseline.json",
        )
    view = answered if cfg.kind == "bt" else critiqued_by(cfg.base, items)
    pairs = [{"chosen": view(it, it.best), "rejected": view(it, j)} for it in ranked for j in _others(it)]
    if not pairs:
        raise ValueError(f"{cfg.data}: no item with two or more responses and a 'best': nothing to rank")
    final = _train_bt(cfg, pairs, out, card)
    if single := [it for it in items if it.rating is not None]:
        logits = ScalarRM(str(final)).score_chats([view(it, 0) for it in single])
        path = final / "baseline.json"
        path.write_text(
            json.dumps(
                {**json.loads(path.read_text()), "threshold": fit_threshold(logits, [it.rating for it in single])},
                indent=1,
            )
        )
    return final


def _train_bt(cfg: BaselineConfig, pairs: list[dict[str, Messages]], out: Path, card: dict) -> Path:
    """TRL's RewardTrainer (the Bradley-Terry loss) on chosen/rejected chats."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from spct.backends.hf import training_dtype

    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cuda = torch.cuda.is_available()
    model = AutoModelForSequenceClassification.from_pretrained(cfg.base, num_labels=1, dtype=training_dtype())
    model.config.pad_token_id = tokenizer.pad_token_id
    args = RewardConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        weight_decay=0.01,
        max_length=cfg.max_length,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=1,
        logging_steps=25,
        logging_first_step=True,
        seed=cfg.seed,
        use_cpu=not cuda,
        bf16=cuda,
        activation_checkpointing=False,
        report_to="none",
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs), processing_class=tokenizer)
    trainer.train(resume_from_checkpoint=resume_point(out / "checkpoints"))
    return _save(trainer, tokenizer, out, {**card, "examples": len(pairs)})


def _save(trainer, tokenizer, out: Path, card: dict) -> Path:
    """out/model: the weights, the tokenizer, and `baseline.json` (what it is, how it trained)."""
    final = out / "model"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(final)
    write_cards(final, "baseline.json", {**card, "log": loss_log(trainer)})
    return final


def naming_the_best(item: Item, order: list[int], text: str) -> str:
    """A correct judgment rewritten for the judge: the score line replaced by the best's index."""
    return _SCORE_LINE.sub("", text) + f"\n\nBest: \\boxed{{{order.index(item.best) + 1}}}"


def _train_judge(cfg: BaselineConfig, ranked: dict[str, Item], out: Path, card: dict) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spct.backends.hf import training_dtype
    from spct.train.sft import sft

    examples = []
    for line in Path(cfg.trajectories).read_text().splitlines():
        record = json.loads(line)
        if (item := ranked.get(record["id"])) is None:  # a lone response: the judge has no index to name
            continue
        for t in record["trajectories"]:
            if t["accepted"]:
                answer = naming_the_best(item, t["order"], t["text"])
                examples.append(
                    {"messages": [*JUDGE.render(item, t["order"]), {"role": "assistant", "content": answer}]}
                )
    if not examples:
        raise ValueError(f"{cfg.trajectories}: no accepted trajectory of an item with two or more responses")
    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    model = AutoModelForCausalLM.from_pretrained(cfg.base, dtype=training_dtype())
    trainer = sft(
        model,
        tokenizer,
        examples,
        workdir=out / "checkpoints",
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        seed=cfg.seed,
        max_length=cfg.max_length,
        save_steps=cfg.save_steps,
    )
    return _save(trainer, tokenizer, out, {**card, "examples": len(examples)})


def _judge_rewards(model: str, items: list[Item], seed: int = 0) -> list[list[float] | None]:
    """Greedy picks: 1 for the response named best, 0 for the others; all 0 (a tie, so wrong)
    when the pick does not parse. None for a lone response."""
    from spct.backends.base import Sampling, load_backend

    ranked = [it for it in items if len(it.responses) > 1]
    orders = {it.id: sample_orders(len(it.responses), 1, seed, it.id)[0] for it in ranked}
    completions = load_backend("hf", model).generate(
        [JUDGE.render(it, orders[it.id]) for it in ranked], Sampling(n=1, temperature=0.0, max_new_tokens=256)
    )
    picks = {}
    for it, (c,) in zip(ranked, completions, strict=True):
        parsed = parse_judgment(c.text, 1, score_range=(1, len(it.responses)), finish_reason=c.finish_reason)
        reward = [0.0] * len(it.responses)
        if parsed.scores is not None:
            reward[orders[it.id][parsed.scores[0] - 1]] = 1.0
        picks[it.id] = reward
    return [picks.get(it.id) for it in items]


def fit_threshold(logits: list[float], ratings: list[int]) -> float:
    """The cut between rating 0 and 1 that classifies the most training responses right (the
    midpoint between neighbouring logits, so it never sits on a training value)."""
    values = sorted(set(logits))
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in pairwise(values)] + [values[-1] + 1.0]
    return max(cuts, key=lambda c: sum((x > c) == bool(r) for x, r in zip(logits, ratings, strict=True)))


def rewards(model: str, items: list[Item], ranked: bool = False) -> list[list[float] | None]:
    """One reward per response of every item (None where the baseline cannot judge: a lone
    response for the pairwise RM). For the BT RM a lone response's reward is its rating, 0 or 1, read
    by the fitted threshold; with `ranked` (a metric that ranks lone responses, ROC-AUC), its raw
    logit, which needs no threshold."""
    card = json.loads((Path(model) / "baseline.json").read_text())
    if card["kind"] == "judge":
        return _judge_rewards(model, items)
    rm = ScalarRM(model)
    if card["kind"] in ("bt", "cloud"):
        view = answered if card["kind"] == "bt" else critiqued_by(card["config"]["base"], items)
        flat = iter(rm.score_chats([view(it, i) for it in items for i in range(len(it.responses))]))
        out = [[next(flat) for _ in it.responses] for it in items]
        if ranked:
            return out
        if (cut := card.get("threshold")) is None:  # trained on no lone response: cannot rate one
            return [None if len(r) == 1 else r for r in out]
        return [[float(r[0] > cut)] if len(r) == 1 else r for r in out]
    pairs = [(it, i, j) for it in items if len(it.responses) > 1 for i, j in permutations(range(len(it.responses)), 2)]
    import torch

    p = iter(torch.tensor(rm.score_chats([shown_pair(it, i, j) for it, i, j in pairs])).sigmoid().tolist())
    wins: dict[str, list[float]] = {}
    for it, i, j in pairs:  # p(i over j) counts for i, 1 - p(i over j) for j: both orders, averaged
        w = wins.setdefault(it.id, [0.0] * len(it.responses))
        q = next(p)
        w[i] += q / 2
        w[j] += (1 - q) / 2
    return [wins.get(it.id) for it in items]


def correct(item: Item, reward: list[float] | None) -> bool | None:
    """Strict correctness (docs/method.md §2) of a baseline's rewards; None where it cannot judge."""
    return None if reward is None else is_correct(reward, item)
