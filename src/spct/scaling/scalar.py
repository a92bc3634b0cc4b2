"""A scalar reward model: a sequence-classification checkpoint with one logit that rates a whole
chat. The meta RM (scaling.meta_rm) and the scalar baselines (train.baselines) are all this
model; only what they put in the chat differs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

Messages = list[dict[str, str]]


class ScalarRM:
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
    def score_chats(self, chats: Sequence[Messages]) -> list[float]:
        """One raw logit per chat, in the model's chat template."""
        texts = [self.tokenizer.apply_chat_template(c, tokenize=False) for c in chats]
        rewards: list[float] = []
        batches = range(0, len(texts), self.batch_size)
        for start in tqdm(batches, desc=f"scoring {len(texts)} chats", unit="batch", disable=len(batches) < 2):
            batch = self.tokenizer(
                texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
                add_special_tokens=False,
            ).to(self.model.device)
            rewards += self.model(**batch).logits[:, 0].float().tolist()
        return rewards
