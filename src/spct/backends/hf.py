"""In-process backend on a transformers causal LM: the fast path for k-sample voting on one machine.

Each forward pass decodes `batch_size` sequences: as many prompts as fit, with all n completions
of each sampled at once, which is several times cheaper than n separate calls; the n
completions of a prompt continue from one prefill of it (prefix sharing). The key/value cache
grows in place (`GrowingLayer`), and on a CPU finished sequences leave the batch (`_decode`).
Speeds and the defaults' measurement: docs/performance.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from tqdm import tqdm
from transformers import (
    AttentionInterface,
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    PretrainedConfig,
    StoppingCriteria,
)
from transformers.cache_utils import DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from spct.backends.base import CANCEL, BackendError, Completion, Messages, Sampling, continues
from spct.backends.pretrained import home, made_once, resolve
from spct.core.defaults import SCORING


def adapter_base(folder: str | Path) -> str | None:
    """The base model of a PEFT adapter folder (a registry name or a path), or None for a full checkpoint."""
    config = Path(folder) / "adapter_config.json"
    return json.loads(config.read_text())["base_model_name_or_path"] if config.is_file() else None


def load_causal_lm(model: str, dtype: str | torch.dtype = "auto", *, trainable: bool = False):
    """(model, tokenizer) of a checkpoint folder, a GGUF file, a hub name, a named registry base
    (`backends.pretrained`), or a LoRA adapter folder over one of those: the adapter is merged
    for inference, left trainable for training. The tokenizer is the base's."""
    path = resolve(model)
    if path.endswith(".gguf") and Path(path).is_file():  # one file, e.g. `spct export --gguf`: dequantised on load
        where, name = str(Path(path).parent), Path(path).name
        return (
            AutoModelForCausalLM.from_pretrained(where, gguf_file=name, dtype=dtype),
            AutoTokenizer.from_pretrained(where, gguf_file=name),
        )
    base = adapter_base(path)
    if base is None:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype), AutoTokenizer.from_pretrained(path)
    from peft import PeftModel

    base = resolve(base)
    lm = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base, dtype=dtype), path, is_trainable=trainable
    )
    return (lm if trainable else lm.merge_and_unload()), AutoTokenizer.from_pretrained(base)


def merged(model: str, dtype: str | torch.dtype) -> str:
    """A LoRA adapter folder's merge with its base in `dtype`, saved once under
    `home()/merged/<digest>` and loaded from there after: merging on every load read the fp32
    base and peaked at 3.4x the bf16 weights beyond them (docs/performance.md). The digest covers
    the adapter's files, its base's folder and the dtype, so a retrained adapter is merged anew.
    Any other model is returned as it is."""
    path = resolve(model)
    base = adapter_base(path)
    if base is None:
        return path
    digest = hashlib.sha256(f"{resolve(base)}\n{str(dtype).removeprefix('torch.')}".encode())
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        digest.update((Path(path) / name).read_bytes())

    def make(out: Path) -> None:
        lm, tokenizer = load_causal_lm(path, dtype)
        lm.save_pretrained(out)
        tokenizer.save_pretrained(out)

    return str(made_once(home() / "merged" / digest.hexdigest()[:16], make))


class HFBackend:
    def __init__(
        self, model: str, *, device: str | None = None, dtype: str | None = None, batch_size: int | None = None
    ):
        self.model_id = model
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dtype = dtype or inference_dtype(device)
            self.model, self.tokenizer = load_causal_lm(merged(model, dtype), dtype)
            self.tokenizer.padding_side = "left"
        except OSError as e:
            if Path(model).is_dir():
                raise
            raise BackendError(
                f"model {model!r} is neither a local directory nor reachable on the Hugging Face Hub "
                f"({e}); pass the path of a local model folder, or go online to download it"
            ) from e
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.to(device)
        cpu = self.model.device.type == "cpu"
        if cpu and self.model.config._attn_implementation == "sdpa":  # sdpa, its samples reading a prompt's cache once
            self.model.set_attn_implementation(SHARED_PREFIX)  # (models on eager, e.g. soft-capped Gemma-2, stay so)
        self.batch_size = batch_size or (SCORING.sequences if cpu else SCORING.gpu_sequences)
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        specials = {t.content for t in self.tokenizer.added_tokens_decoder.values() if t.special}
        self.specials = sorted(specials | set(self.tokenizer.all_special_tokens), key=len, reverse=True)

    def as_text(self, prompts: Sequence[Messages]) -> list[Messages]:
        """The prompts with every special token of this tokenizer written inside a text broken by a
        zero-width space: a query or response that holds "<|im_start|>assistant" is read as text
        and cannot open a chat turn of its own (the template's own tokens stay control tokens)."""

        def plain(text: str) -> str:
            for token in self.specials:
                if token in text:
                    text = text.replace(token, token[0] + "\u200b" + token[1:])
            return text

        return [[{**m, "content": plain(m["content"])} for m in p] for p in prompts]

    @property
    def context_length(self) -> int:
        """Positions the model has: prompt and generated tokens together must fit."""
        return self.model.config.max_position_embeddings

    def chat(self, prompts: Sequence[Messages], **options):
        """The chat template applied to `prompts` as `generate` feeds them: opening the assistant's
        turn, or continuing it where the prompts end with one (`base.continues`)."""
        cont = continues(prompts)
        return self.tokenizer.apply_chat_template(
            self.as_text(prompts),
            add_generation_prompt=not cont,
            continue_final_message=cont,
            return_dict=True,
            **options,
        )

    def prompt_tokens(self, prompts: Sequence[Messages]) -> list[int]:
        """Each prompt's length in tokens, as `generate` will feed it."""
        return [len(self.chat([p], tokenize=True)["input_ids"][0]) for p in prompts]

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        """sampling.n completions per prompt; temperature 0 decodes greedily once and repeats it n
        times. A forward pass takes `batch_size // n` prompts (at least one)."""
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        greedy = sampling.temperature <= 0
        options = (
            {"do_sample": False}
            if greedy
            else {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
        )
        per_prompt = 1 if greedy else sampling.n
        cancel = CANCEL.get()
        stopping = [Cancelled(cancel)] if cancel is not None else []
        if self.model.device.type == "cpu":  # finished rows leave the batch (`_decode`)
            stopping.append(AnyFinished(self.eos_ids | {self.tokenizer.pad_token_id}))
        options["stopping_criteria"] = stopping
        if sampling.stop:
            options |= {"stop_strings": list(sampling.stop), "tokenizer": self.tokenizer}
        results: list[list[Completion]] = []
        step = max(1, self.batch_size // per_prompt)
        starts = range(0, len(prompts), step)
        for start in tqdm(starts, desc="generate", leave=False, disable=len(starts) < 4):
            if cancel is not None and cancel.is_set():  # nobody waits for the rest
                results += [[Completion("", "length", 0)] * sampling.n for _ in prompts[start : start + step]]
                continue
            inputs = self.chat(prompts[start : start + step], padding=True, return_tensors="pt").to(self.model.device)
            ids, mask = inputs["input_ids"], inputs["attention_mask"]
            cache = growing_cache(
                self.model.config, sampling.max_new_tokens, self.model.config._attn_implementation == SHARED_PREFIX
            )
            if per_prompt > 1:
                self._shared_prefill(cache, ids, mask, per_prompt)
            rows = self._decode(
                ids.repeat_interleave(per_prompt, 0),
                mask.repeat_interleave(per_prompt, 0),
                cache,
                sampling,
                options,
                cancel,
            )
            completions = [self._completion(row, sampling.stop) for row in rows]
            for i in range(0, len(completions), per_prompt):
                group = completions[i : i + per_prompt]
                results.append(group * sampling.n if greedy else group)
        return results

    def _decode(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        cache: DynamicCache,
        sampling: Sampling,
        options: dict,
        cancel: threading.Event | None,
    ) -> list[list[int]]:
        """Each row's new tokens. One `generate` call decodes every row until the longest ends:
        judgments of 80 tokens waited on one of 320 (docs/performance.md). On a CPU, where a
        decode step's cost grows with its rows (bf16 here: 50 ms at 1, 150 ms at 32), a call
        ends at the step a row finishes (`AnyFinished`); the finished rows leave the batch and
        its cache, and the rest continue from the cache in the next call, whose first step feeds
        only their last token. On a GPU a step costs about the same at any batch size, so one
        call decodes them all."""
        tokens: list[list[int]] = [[] for _ in range(len(ids))]
        active, budget = list(range(len(ids))), sampling.max_new_tokens
        while budget > 0:
            output = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                cache=cache,
                max_new_tokens=budget,
                pad_token_id=self.tokenizer.pad_token_id,
                **options,
            )
            new = output[:, ids.shape[1] :]
            budget -= new.shape[1]
            keep = []
            for i, row in enumerate(new.tolist()):
                tokens[active[i]] += row
                if not self._ended(tokens[active[i]], sampling.stop):
                    keep.append(i)
            if not keep or (cancel is not None and cancel.is_set()):
                break
            if len(keep) < len(active):
                cache.batch_select_indices(torch.tensor(keep))
            ids, mask = output[keep], torch.cat([mask, torch.ones_like(new)], 1)[keep]
            active = [active[i] for i in keep]
        return tokens

    def _ended(self, tokens: list[int], stop: tuple[str, ...]) -> bool:
        """Whether a row has produced an eos token or one of the stop strings."""
        if any(t in self.eos_ids for t in tokens):
            return True
        return bool(stop) and any(s in self.tokenizer.decode(tokens, skip_special_tokens=True) for s in stop)

    def _shared_prefill(self, cache: DynamicCache, ids: torch.Tensor, mask: torch.Tensor, n: int) -> None:
        """Run each prompt through the model once into `cache` and give its n samples copies of
        it: `num_return_sequences` would prefill every copy. The last prompt token is left for
        `generate`, which continues from the cache (positions from the left-padded mask, as
        `generate` computes them)."""
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        self.model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, :-1],
            cache=cache,
            use_cache=True,
            logits_to_keep=1,  # the logits are not read: all of them would be (prompts x tokens x vocabulary) floats
        )
        cache.batch_repeat_interleave(n)

    def _completion(self, tokens: list[int], stop: tuple[str, ...] = ()) -> Completion:
        """Cut at the first eos: the rest of the row is padding for the batch's longer completions.
        A row that reached a stop string ends there too (its padding is skipped as special)."""
        end = next((i + 1 for i, t in enumerate(tokens) if t in self.eos_ids), None)
        kept = tokens[:end]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        stopped = end is not None or any(s in text for s in stop)
        n_tokens = len(kept) if end is not None else sum(t != self.tokenizer.pad_token_id for t in kept)
        return Completion(text=text, finish_reason="stop" if stopped else "length", n_tokens=n_tokens)


class GrowingLayer(DynamicLayer):
    """A layer of the key/value cache that appends each step's keys and values into a buffer
    with room for `reserve` more tokens. transformers' `DynamicLayer` concatenates, copying the
    whole cache at every decode step: on 2 CPU cores that was two thirds of a decode step at 32
    sequences of 1,375 tokens (docs/performance.md). The buffer is copied only when its room
    runs out, or when an inherited method replaced the tensors.

    With `share`, the samples of a shared prefill keep their prompt's keys and values once
    (`prefix`, one per prompt) and only their own tokens per row: decoding n samples of a
    1,500-token prompt then reads the prompt's cache once a step instead of n times
    (`shared_prefix_attention`), which was most of a decode step at 32 rows on a CPU."""

    def __init__(self, reserve: int, share: bool = False) -> None:
        super().__init__()
        self.reserve, self.share = reserve, share
        self.room: tuple[torch.Tensor, torch.Tensor] | None = None  # (keys, values) buffers
        self.prefix: tuple[torch.Tensor, torch.Tensor] | None = None  # per prompt, once its samples share it
        self.layout: tuple[torch.Tensor, torch.Tensor, int]  # `prompt_layout` of each row's prompt in `prefix`

    def get_seq_length(self) -> int:
        return super().get_seq_length() + (0 if self.prefix is None else self.prefix[0].shape[-2])

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n, new = super().get_seq_length(), key_states.shape[-2]
        room = self.room
        if room is None or self.keys.data_ptr() != room[0].data_ptr() or n + new > room[0].shape[-2]:
            room = self._allocate(key_states, (*key_states.shape[:-2], n + new + self.reserve, key_states.shape[-1]))
            if n:
                room[0][..., :n, :], room[1][..., :n, :] = self.keys, self.values
        room[0][..., n : n + new, :], room[1][..., n : n + new, :] = key_states, value_states
        self.keys, self.values = room[0][..., : n + new, :], room[1][..., : n + new, :]
        if self.prefix is None:
            return self.keys, self.values
        return SharedKV(self.prefix[0], self.keys, *self.layout), SharedKV(self.prefix[1], self.values, *self.layout)

    def batch_repeat_interleave(self, repeats: int) -> None:
        """Each sequence's cache `repeats` times (the samples of a shared prefill): shared as the
        prefix of its samples with `share`, else written straight into a buffer with room (one
        copy of the repeated cache, not two)."""
        n = super().get_seq_length()
        if n == 0:
            return
        batch, *middle, _, width = self.keys.shape
        if self.share:
            self.prefix, self.layout = (
                (self.keys, self.values),
                prompt_layout(torch.arange(batch).repeat_interleave(repeats)),
            )
            room = self._allocate(self.keys, (batch * repeats, *middle, self.reserve, width))
            self.keys, self.values = room[0][..., :0, :], room[1][..., :0, :]
            return
        shape = (batch * repeats, *middle, n + self.reserve, width)
        room = self._allocate(self.keys, shape)
        for buffer, old in zip(room, (self.keys, self.values), strict=True):
            buffer.view(batch, repeats, *shape[1:])[..., :n, :] = old[:, None]
        self.keys, self.values = room[0][..., :n, :], room[1][..., :n, :]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the sequences at `indices` (ascending), moved down within the buffer: the rows of
        finished sequences leave the batch without a new allocation or a copy of the kept rows
        that are already in place. A shared prefix leaves with the last of its rows."""
        n, keep = super().get_seq_length(), indices.tolist()
        for buffer in self.room:
            for row, old in enumerate(keep):
                if row != old:
                    buffer[row, ..., :n, :] = buffer[old, ..., :n, :]
        self.room = (self.room[0][: len(keep)], self.room[1][: len(keep)])
        self.keys, self.values = self.room[0][..., :n, :], self.room[1][..., :n, :]
        if self.prefix is not None:
            used, prompt = torch.unique(self.layout[0][indices] // self.layout[2], return_inverse=True)
            self.layout = prompt_layout(prompt)
            if len(used) < len(self.prefix[0]):
                self.prefix = (self.prefix[0][used], self.prefix[1][used])

    def _allocate(self, like: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """New (keys, values) buffers of `shape`, `like`'s dtype and device, kept as the room."""
        self.room = (like.new_empty(shape), like.new_empty(shape))
        return self.room


def growing_cache(config: PretrainedConfig, reserve: int, share: bool = False) -> DynamicCache:
    """An empty cache for `config`'s model whose full-attention layers grow in place (`GrowingLayer`),
    sharing each prompt's cache among its samples with `share` (the model's attention must then be
    `SHARED_PREFIX`)."""
    cache = DynamicCache(config=config)
    cache.layers = [GrowingLayer(reserve, share) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


class SharedKV(NamedTuple):
    """A layer's keys (or values) as `GrowingLayer` shares them: each prompt's once, each row's own
    after it; with where each row sits when its prompt's rows are stacked (`prompt_layout`)."""

    prefix: torch.Tensor  # (prompts, kv heads, prompt length, width)
    suffix: torch.Tensor  # (rows, kv heads, tokens since, width)
    slots: torch.Tensor  # row -> prompt x per_prompt + its place among its prompt's rows
    firsts: torch.Tensor  # prompt -> its first row
    per_prompt: int  # the most rows a prompt has


def prompt_layout(prompt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(slots, firsts, per_prompt) of rows sorted by their prompt's index (`SharedKV`); a row's
    prompt is slots // per_prompt."""
    counts = torch.bincount(prompt)
    firsts = counts.cumsum(0) - counts
    per_prompt = int(counts.max())
    return prompt * per_prompt + torch.arange(len(prompt)) - firsts[prompt], firsts, per_prompt


def shared_prefix_attention(module, query, key, value, attention_mask, scaling=None, **kwargs):
    """Attention over a `SharedKV` cache (otherwise transformers' sdpa): the queries of a prompt's
    rows attend its prefix together, as one sequence of queries over keys read once, and each
    row its own tokens; the two halves merge by their log-sum-exp, which is exact. CPU only
    (its flash kernel returns the log-sum-exp)."""
    if not isinstance(key, SharedKV):
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
    rows, heads, length, width = query.shape
    prompts, kv_heads, before, _ = key.prefix.shape
    queries = heads // kv_heads * length  # per row and key/value head: query head h reads key/value head h // group
    q = query.reshape(rows, kv_heads, queries, width)
    mask = None
    if attention_mask is not None:  # True where a query may look: additive, as the kernel wants it
        mask = torch.zeros(attention_mask.shape, dtype=query.dtype).masked_fill_(~attention_mask, float("-inf"))
    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    stacked = q.new_zeros(prompts * key.per_prompt, kv_heads, queries, width)
    stacked[key.slots] = q
    stacked = stacked.view(prompts, key.per_prompt, kv_heads, queries, width).transpose(1, 2)
    out, lse = flash(
        stacked.reshape(prompts, kv_heads, key.per_prompt * queries, width),
        key.prefix,
        value.prefix,
        attn_mask=None if mask is None else mask[key.firsts, :, :1, :before],  # the prompt's padding
        scale=scaling,
    )
    out = out.view(prompts, kv_heads, key.per_prompt, queries, width).transpose(1, 2).flatten(0, 1)[key.slots]
    lse = lse.view(prompts, kv_heads, key.per_prompt, queries).transpose(1, 2).flatten(0, 1)[key.slots]
    own_out, own_lse = flash(
        q,
        key.suffix,
        value.suffix,
        attn_mask=None if mask is None else mask[..., before:].repeat(1, 1, heads // kv_heads, 1),
        scale=scaling,
    )
    top = torch.maximum(lse, own_lse)
    a, b = (lse - top).exp()[..., None], (own_lse - top).exp()[..., None]
    merged = (out * a + own_out * b) / (a + b)
    return merged.to(query.dtype).view(rows, heads, length, width).transpose(1, 2).contiguous(), None


SHARED_PREFIX = "spct_shared_prefix"  # the attention implementation of a CPU hf backend
AttentionInterface.register(SHARED_PREFIX, shared_prefix_attention)
AttentionMaskInterface.register(SHARED_PREFIX, sdpa_mask)


class AnyFinished(StoppingCriteria):
    """Ends `generate` at the step one of its rows produces an end token (eos, or the padding
    `generate` writes after a stop string), so that `HFBackend._decode` can drop that row."""

    def __init__(self, ends: set[int]) -> None:
        self.ends = torch.tensor(sorted(ends))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        done = bool(torch.isin(input_ids[:, -1], self.ends.to(input_ids.device)).any())
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class Cancelled(StoppingCriteria):
    """Stops `generate` at the next token once the caller's event is set (`base.CANCEL`)."""

    def __init__(self, event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def training_dtype():
    """The dtype a scalar head or a GRPO policy loads in to train: the checkpoint's own on a GPU,
    fp32 on a CPU (where mixed precision is not used)."""
    return "auto" if torch.cuda.is_available() else torch.float32


def bf16_is_fast() -> bool:
    """bf16 is about 2x fp32 for a 100M+ model on a GPU or a CPU with AMX / AVX512-BF16, and
    measured 25x slower than fp32 on an AVX2-only CPU (its bf16 GEMMs fall back to a reference
    loop): the training stages ask this rather than assume."""
    if torch.cuda.is_available():
        return True
    caps = torch.cpu.get_capabilities()
    return bool(caps.get("amx_bf16") or caps.get("avx512_bf16"))


def inference_dtype(device: str) -> str:
    """bf16 weights on a CPU where bf16 is fast (docs/performance.md, AMX: 1.5x the judgments/s of
    fp32, 3x the prefill, the same parse rate), else the checkpoint's own dtype."""
    return "bfloat16" if device == "cpu" and bf16_is_fast() else "auto"


def device_name() -> str:
    """Where the hf backend runs by default, for the reports' headers."""
    return torch.cuda.get_device_name() if torch.cuda.is_available() else f"{os.cpu_count()} CPU cores"
