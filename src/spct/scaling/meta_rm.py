"""The meta reward model: a scalar model that rates one sampled judgment, so that meta-RM-guided
voting sums only the judgments it trusts (docs/method.md §3).

    meta = MetaRM("path/or/hub-name")             # any sequence-classification checkpoint
    meta.score([(item, sample), ...])             # raw logits, higher = more likely correct

Its input (docs/method.md §3): a user turn "Please score the responses." with the conversation and the
responses in the order that judgment saw them (its critique names them by position), and the
judgment's text (principles, critique and the scores it reached) as the assistant turn, in the
model's chat template. The released DeepSeek-GRM-27B-MetaRM is such a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

from spct.core.items import Item, Sample
from spct.core.prompts import PromptTemplate
from spct.scaling.scalar import ScalarRM

META_PROMPT = PromptTemplate.load("meta")


def meta_messages(item: Item, sample: Sample) -> list[dict[str, str]]:
    return [*META_PROMPT.render(item, sample.order), {"role": "assistant", "content": sample.text}]


class MetaRM(ScalarRM):
    def score(self, pairs: Sequence[tuple[Item, Sample]]) -> list[float]:
        """One meta reward (the raw logit) per (item, sampled judgment)."""
        return self.score_chats([meta_messages(it, s) for it, s in pairs])

    def annotate(self, items: Sequence[Item], drawn: Sequence[list[Sample]]) -> list[list[Sample]]:
        """Each item's samples with their meta reward in `meta_score`, scored in one pass over all
        valid samples; failed samples have no judgment to score and keep None."""
        rewards = iter(self.score([(it, s) for it, ss in zip(items, drawn, strict=True) for s in ss if s.ok]))
        return [[s.model_copy(update={"meta_score": next(rewards)}) if s.ok else s for s in ss] for ss in drawn]
