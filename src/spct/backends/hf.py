"""In-process backend on a transformers causal LM: the fast path for k-sample voting on one machine.

Each forward pass takes `batch_size` prompts and samples all n completions of each at once
(`num_return_sequences`), which is several times cheaper than n separate calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from spct.backends.base import BackendError, Completion, Messages, Sampling


class HFBackend:
    def __init__(self, model: str, *, device: str | None = None, dtype: str = "auto", batch_size: int = 8):
        self.model_id = model
        self.batch_size = batch_size
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
        except OSError as e:
            if Path(model).is_dir():
                raise
            raise BackendError(
                f"model {model!r} is neither a local directory nor reachable on the Hugging Face Hub "
                f"({e}); pass the path of a local model folder, or go online to download it"
            ) from e
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        """sampling.n completions per prompt; temperature 0 decodes greedily once and repeats it n times."""
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        greedy = sampling.temperature <= 0
        options = (
            {"do_sample": False}
            if greedy
            else {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
        )
        per_prompt = 1 if greedy else sampling.n
        results: list[list[Completion]] = []
        starts = range(0, len(prompts), self.batch_size)
        for start in tqdm(starts, desc="generate", leave=False, disable=len(starts) < 4):
            inputs = self.tokenizer.apply_chat_template(
                list(prompts[start : start + self.batch_size]),
                add_generation_prompt=True,
                padding=True,
                return_dict=True,
                return_tensors="pt",
            ).to(self.model.device)
            output = self.model.generate(
                **inputs,
                max_new_tokens=sampling.max_new_tokens,
                num_return_sequences=per_prompt,
                pad_token_id=self.tokenizer.pad_token_id,
                **options,
            )
            completions = [self._completion(row) for row in output[:, inputs["input_ids"].shape[1] :].tolist()]
            for i in range(0, len(completions), per_prompt):
                group = completions[i : i + per_prompt]
                results.append(group * sampling.n if greedy else group)
        return results

    def _completion(self, tokens: list[int]) -> Completion:
        """Cut at the first eos: the rest of the row is padding for the batch's longer completions."""
        end = next((i + 1 for i, t in enumerate(tokens) if t in self.eos_ids), None)
        kept = tokens[:end]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        return Completion(text=text, finish_reason="length" if end is None else "stop", n_tokens=len(kept))
