"""The meta reward model: a scalar model that rates one sampled judgment, so that meta-RM-guided
voting sums only the judgments it trusts (SPEC.md 3).

    meta = MetaRM("path/or/hub-name")             # any sequence-classification checkpoint
    meta.score([(item, sample), ...])             # raw logits, higher = more likely correct

Its input (SPEC.md 3): a user turn "Please score the responses." with the conversation and the
responses in the order that judgment saw them (its critique names them by position), and the
judgment's text (principles, critique and the scores it reached) as the assistant turn, in the
model's chat template. The released DeepSeek-GRM-27B-MetaRM is such a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from spct.core.items import Item, Sample
from spct.core.prompts import PromptTemplate

META_PROMPT = PromptTemplate.load("meta")


def meta_messages(item: Item, sample: Sample) -> list[dict[str, str]]:
    return META_PROMPT.render(item, sample.order) + [{"role": "assistant", "content": sample.text}]


class MetaRM:
    def __init__(self, model: str, *, device: str | None = None, batch_size: int = 16, max_length: int = 4096):
        self.model_id = model
        self.batch_size = batch_size
        self.max_length = max_length
        # right padding: the classifier reads each row's last real token, and positions stay put
        self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="right")
        self.model = AutoModelForSequenceClassification.from_pretrained(model, num_labels=1)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.config.pad_token_id = self.tokenizer.pad_token_id  # finds each row's last real token
        self.model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()

    @torch.inference_mode()
    def score(self, pairs: Sequence[tuple[Item, Sample]]) -> list[float]:
        """One meta reward (the raw logit) per (item, sampled judgment)."""
        texts = [self.tokenizer.apply_chat_template(meta_messages(it, s), tokenize=False) for it, s in pairs]
        rewards: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                texts[start : start + self.batch_size], padding=True, truncation=True,
                max_length=self.max_length, return_tensors="pt", add_special_tokens=False,
            ).to(self.model.device)
            rewards += self.model(**batch).logits[:, 0].float().tolist()
        return rewards

    def annotate(self, items: Sequence[Item], drawn: Sequence[list[Sample]]) -> list[list[Sample]]:
        """Each item's samples with their meta reward in `meta_score`, scored in one pass over all
        valid samples; failed samples have no judgment to score and keep None."""
        rewards = iter(self.score([(it, s) for it, ss in zip(items, drawn) for s in ss if s.ok]))
        return [[s.model_copy(update={"meta_score": next(rewards)}) if s.ok else s for s in ss] for ss in drawn]
