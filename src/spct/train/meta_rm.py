"""Train the meta RM (docs/method.md §3-4) that meta-RM-guided voting uses.

    spct train meta-rm --trajectories runs/rft/trajectories.jsonl --grm runs/grpo/model --out runs/meta-rm

Data: the unhinted RFT trajectories and, with `grm`, `n_samples` more judgments per item sampled
from the trained GRM; label 1 when the judgment is correct by the rule of docs/method.md §2. Input: the
meta RM's prompt (`scaling.meta_rm.meta_messages`) in the backbone's chat template. Model: a
sequence-classification head (one logit) on `base`, trained with binary cross-entropy
(transformers' multi-label problem type is exactly BCE-with-logits for one label).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from spct.backends.pretrained import resolve
from spct.core.defaults import SCORING
from spct.core.items import Item, Sample
from spct.core.vote import is_correct
from spct.scaling.meta_rm import meta_messages
from spct.train.data import training_items
from spct.train.heads import train_bce_head
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
            for item, samples in zip(
                batch, grm.draw(batch, 0, cfg.n_samples, SCORING.sampled_temperature), strict=True
            ):
                pairs += [(item, s, int(is_correct(s.scores, item))) for s in samples]
    return pairs


def run(cfg: MetaRMConfig) -> Path:
    items = {it.id: it for it in training_items(cfg.data, cfg.items, cfg.seed)}
    examples = [(meta_messages(it, s), label) for it, s, label in labelled_judgments(cfg, items)]
    return train_bce_head(
        resolve(cfg.base),
        examples,
        Path(cfg.out),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        max_length=cfg.max_length,
        save_steps=cfg.save_steps,
        seed=cfg.seed,
        card={"config": asdict(cfg)},
        card_name="meta_rm.json",
    )
