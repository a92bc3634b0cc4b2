"""Train the meta RM (SPEC.md 3-4) that meta-RM-guided voting uses.

    spct train meta-rm --trajectories runs/rft/trajectories.jsonl --grm runs/grpo/model --out runs/meta-rm

Data: the unhinted RFT trajectories and, with `grm`, `n_samples` more judgments per item sampled
from the trained GRM; label 1 when the judgment is correct by the rule of SPEC.md 2. Input: the
meta RM's prompt (`scaling.meta_rm.meta_messages`) in the backbone's chat template. Model: a
sequence-classification head (one logit) on `base`, trained with binary cross-entropy
(transformers' multi-label problem type is exactly BCE-with-logits for one label).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from spct.core.items import Item, Sample
from spct.core.vote import is_correct
from spct.scaling.meta_rm import meta_messages
from spct.train.data import training_items
from spct.train.meta_rm_config import MetaRMConfig


def labelled_judgments(cfg: MetaRMConfig, items: dict[str, Item]) -> list[tuple[Item, Sample, int]]:
    """(item, judgment, correct) from the RFT trajectories (unhinted: a hinted prompt is not what
    the meta RM will see) and, with cfg.grm, fresh samples of the trained GRM."""
    pairs = []
    for line in Path(cfg.trajectories).read_text().splitlines():
        record = json.loads(line)
        item = items[record["id"]]
        for t in record["trajectories"]:
            if not t["hinted"]:
                sample = Sample(order=t["order"], text=t["text"], scores=t["scores"])
                pairs.append((item, sample, int(t["correct"])))
    if cfg.grm:
        from spct.grm import GRM

        grm = GRM(cfg.grm, seed=cfg.seed + 1)
        ordered = list(items.values())
        for start in range(0, len(ordered), 16):
            batch = ordered[start : start + 16]
            for item, samples in zip(batch, grm.draw(batch, 0, cfg.n_samples, 0.5)):
                pairs += [(item, s, int(is_correct(s.scores, item))) for s in samples]
    return pairs


def run(cfg: MetaRMConfig) -> Path:
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    out = Path(cfg.out)
    items = {it.id: it for it in training_items(cfg.data, cfg.items, cfg.seed)}
    pairs = labelled_judgments(cfg, items)
    if len({label for *_, label in pairs}) < 2:
        raise ValueError(f"{len(pairs)} judgments, all labelled alike: a meta RM needs both correct and incorrect ones")
    tokenizer = AutoTokenizer.from_pretrained(cfg.base, padding_side="right")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = [
        {**tokenizer(tokenizer.apply_chat_template(meta_messages(it, s), tokenize=False), add_special_tokens=False,
                     truncation=True, max_length=cfg.max_length), "labels": [float(label)]}
        for it, s, label in pairs
    ]
    cuda = torch.cuda.is_available()
    model = AutoModelForSequenceClassification.from_pretrained(
        cfg.base, num_labels=1, problem_type="multi_label_classification", dtype="auto" if cuda else torch.float32,
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine", warmup_steps=0.03, weight_decay=0.01,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=1, logging_steps=25, seed=cfg.seed,
        use_cpu=not cuda, bf16=cuda, report_to="none",
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows),
        data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=any((out / "checkpoints").glob("checkpoint-*")) or None)
    final = out / "model"
    trainer.save_model(str(final))  # the main process writes, whatever the distribution
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(final)
        card = {"config": asdict(cfg), "judgments": len(pairs), "correct": sum(label for *_, label in pairs),
                "log": [r for r in trainer.state.log_history if "loss" in r]}
        (final / "meta_rm.json").write_text(json.dumps(card, indent=1))
    return final
