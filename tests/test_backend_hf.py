from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

from spct.backends import BackendError, Sampling, load_backend
from spct.backends.hf import (
    SHARED_PREFIX,
    GrowingLayer,
    HFBackend,
    SharedKV,
    prompt_layout,
    shared_prefix_attention,
)

PROMPTS = [
    [{"role": "user", "content": "Is the answer clear?"}],
    [{"role": "system", "content": "Judge the response."}, {"role": "user", "content": "score the helpful answer"}],
    [{"role": "user", "content": "a"}],
]
GREEDY = Sampling(n=1, temperature=0.0, max_new_tokens=12)


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> HFBackend:
    return HFBackend(str(tiny_model_dir), device="cpu", batch_size=8)


def test_load_backend_by_name(tiny_model_dir: Path):
    backend = load_backend("hf", str(tiny_model_dir), device="cpu")
    assert backend.model_id == str(tiny_model_dir)


def test_n_completions_per_prompt(backend: HFBackend):
    out = backend.generate(PROMPTS, Sampling(n=4, temperature=1.0, max_new_tokens=8, seed=0))
    assert [len(c) for c in out] == [4, 4, 4]
    for completion in (c for cs in out for c in cs):
        assert completion.finish_reason in ("stop", "length")
        assert 1 <= completion.n_tokens <= 8
    assert len({c.text for c in out[0]}) > 1  # samples differ


def test_left_padding_does_not_change_greedy_output(backend: HFBackend):
    batched = backend.generate(PROMPTS, GREEDY)
    alone = [backend.generate([p], GREEDY)[0] for p in PROMPTS]
    assert batched == alone


def test_greedy_is_deterministic_and_repeated_n_times(backend: HFBackend):
    first = backend.generate(PROMPTS[:1], Sampling(n=3, temperature=0.0, max_new_tokens=12))[0]
    assert len(first) == 3 and len(set(first)) == 1
    assert backend.generate(PROMPTS[:1], GREEDY)[0][0] == first[0]


def test_seed_reproduces_samples(backend: HFBackend):
    sampling = Sampling(n=3, temperature=1.0, max_new_tokens=10, seed=7)
    assert backend.generate(PROMPTS, sampling) == backend.generate(PROMPTS, sampling)
    other = backend.generate(PROMPTS, Sampling(n=3, temperature=1.0, max_new_tokens=10, seed=8))
    assert other != backend.generate(PROMPTS, sampling)


def test_sequences_per_pass_default_to_the_cpu_figure_unless_given(tiny_model_dir: Path, backend: HFBackend):
    from spct.core.defaults import SCORING

    assert backend.batch_size == 8  # given
    assert HFBackend(str(tiny_model_dir), device="cpu").batch_size == SCORING.sequences < SCORING.gpu_sequences


@pytest.mark.parametrize("fast", [True, False])
def test_weights_load_in_bf16_on_a_cpu_where_it_is_fast_unless_a_dtype_is_given(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
):
    monkeypatch.setattr("spct.backends.hf.bf16_is_fast", lambda: fast)
    chosen = HFBackend(str(tiny_model_dir), device="cpu")
    assert chosen.model.dtype == (torch.bfloat16 if fast else torch.float32)  # else the checkpoint's own: fp32
    assert HFBackend(str(tiny_model_dir), device="cpu", dtype="float32").model.dtype == torch.float32
    assert chosen.generate(PROMPTS[:1], GREEDY)[0][0].n_tokens  # and it generates


def test_small_batches_keep_prompt_order(tiny_model_dir: Path, backend: HFBackend):
    small = HFBackend(str(tiny_model_dir), device="cpu", batch_size=1)
    assert small.generate(PROMPTS, GREEDY) == backend.generate(PROMPTS, GREEDY)


def test_a_forward_pass_decodes_batch_size_sequences(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    backend = HFBackend(str(tiny_model_dir), device="cpu", batch_size=4)
    rows, generate = [], backend.model.generate

    def recording(**kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        return generate(**kwargs)

    monkeypatch.setattr(backend.model, "generate", recording)
    backend.generate(PROMPTS, Sampling(n=2, temperature=1.0, max_new_tokens=4, seed=0))
    assert rows == [4, 2]  # two prompts x two samples, then the third prompt's two
    backend.generate(PROMPTS, Sampling(n=2, temperature=0.0, max_new_tokens=4))
    assert rows[2:] == [3]  # greedy decodes each prompt once


def test_finish_reason_length_when_cut_short(backend: HFBackend):
    out = backend.generate(PROMPTS, Sampling(n=2, temperature=1.0, max_new_tokens=2, seed=0))
    cut = [c for cs in out for c in cs if c.finish_reason == "length"]
    assert cut and all(c.n_tokens == 2 for c in cut)


def test_stop_at_eos_counts_it_but_drops_it_from_the_text(tiny_model_dir: Path):
    backend = HFBackend(str(tiny_model_dir), device="cpu")
    eos = backend.tokenizer.eos_token_id
    with torch.no_grad():  # a large eos embedding (tied to the output layer) makes eos likely
        backend.model.get_input_embeddings().weight[eos] *= 10
    out = backend.generate(PROMPTS, Sampling(n=4, temperature=1.0, max_new_tokens=12, seed=0))
    stopped = [c for cs in out for c in cs if c.finish_reason == "stop"]
    assert stopped and all(c.n_tokens <= 12 and "<|end|>" not in c.text for c in stopped)
    assert len({c.n_tokens for c in stopped}) > 1  # rows of one batch ended at different steps


def test_missing_hub_model_raises_backend_error(monkeypatch: pytest.MonkeyPatch):
    # huggingface_hub reads HF_HUB_OFFLINE once at import, so setting the variable now is too late
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BackendError, match="neither a local directory nor reachable"):
        HFBackend("nobody/no-such-model")


def test_growing_cache_layer_holds_what_concatenation_holds():
    torch.manual_seed(0)
    layer, keys, values = GrowingLayer(reserve=3), torch.empty(2, 2, 0, 4), torch.empty(2, 2, 0, 4)
    for step, new in enumerate([5, 1, 1, 1, 1, 2, 1, 1]):  # a prefill, decode steps, past the room twice
        k, v = torch.randn(keys.shape[0], 2, new, 4), torch.randn(keys.shape[0], 2, new, 4)
        keys, values = torch.cat([keys, k], -2), torch.cat([values, v], -2)
        got = layer.update(k, v)
        assert torch.equal(got[0], keys) and torch.equal(got[1], values) and layer.get_seq_length() == keys.shape[-2]
        if step == 0:  # the samples of a shared prefill (`HFBackend._shared_prefill`)
            layer.batch_repeat_interleave(3)
            keys, values = keys.repeat_interleave(3, 0), values.repeat_interleave(3, 0)
        if step == 2:  # finished sequences leave the batch (`HFBackend._decode`)
            kept = torch.tensor([1, 2, 4])
            layer.batch_select_indices(kept)
            keys, values = keys[kept], values[kept]
            assert torch.equal(layer.keys, keys) and torch.equal(layer.values, values)


def test_shared_layer_holds_each_prompt_once_and_drops_it_with_its_last_row():
    torch.manual_seed(0)
    layer, prompt_keys = GrowingLayer(reserve=2, share=True), torch.randn(3, 2, 5, 4)
    layer.update(prompt_keys, prompt_keys + 1)  # a prefill of 3 prompts
    layer.batch_repeat_interleave(2)  # 2 samples of each
    steps = [torch.randn(6, 2, 1, 4) for _ in range(3)]  # past the room once
    for step in steps:
        keys, values = layer.update(step, step + 1)
    assert isinstance(keys, SharedKV) and torch.equal(keys.prefix, prompt_keys)  # once per prompt
    assert torch.equal(keys.suffix, torch.cat(steps, -2)) and torch.equal(values.suffix, keys.suffix + 1)
    assert layer.get_seq_length() == 5 + 3
    layer.batch_select_indices(torch.tensor([0, 1, 5]))  # prompt 1's rows both finished, prompt 2 keeps one
    keys, _ = layer.update(*(2 * [torch.randn(3, 2, 1, 4)]))
    assert torch.equal(keys.prefix, prompt_keys[[0, 2]]) and keys.suffix.shape == (3, 2, 4, 4)
    assert keys.slots.tolist() == [0, 1, 2] and keys.firsts.tolist() == [0, 2] and keys.per_prompt == 2


@pytest.mark.parametrize("length", [1, 2])
def test_shared_prefix_attention_is_sdpa_over_the_whole_cache(length: int):
    """Grouped queries (6 heads reading 2), prompts of different padding, prompts keeping 3, 1 and
    2 rows, one query (a decode step) or two (causal among themselves)."""
    from types import SimpleNamespace

    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    torch.manual_seed(0)
    prompts, kv_heads, before, since, width = 3, 2, 7, 4, 8
    prompt = torch.tensor([0, 0, 0, 1, 2, 2])
    rows, heads = len(prompt), 3 * kv_heads
    module = SimpleNamespace(num_key_value_groups=heads // kv_heads, is_causal=True, training=False)
    prefix = [torch.randn(prompts, kv_heads, before, width) for _ in "kv"]
    suffix = [torch.randn(rows, kv_heads, since, width) for _ in "kv"]
    query = torch.randn(rows, heads, length, width)
    mask = torch.ones(rows, 1, length, before + since, dtype=torch.bool)
    mask[:3, ..., :2] = False  # prompt 0 left-padded by 2, prompt 2 by 1
    mask[4:, ..., :1] = False
    mask[..., before:] = torch.ones(length, since, dtype=torch.bool).tril(since - length)  # the new queries: causal
    whole = [torch.cat([p[prompt], s], -2) for p, s in zip(prefix, suffix, strict=True)]
    expected, _ = sdpa_attention_forward(module, query, *whole, mask, scaling=width**-0.5)
    layout = prompt_layout(prompt)
    key, value = (SharedKV(p, s, *layout) for p, s in zip(prefix, suffix, strict=True))
    got, _ = shared_prefix_attention(module, query, key, value, mask, scaling=width**-0.5)
    assert got.shape == expected.shape == (rows, length, heads, width)
    torch.testing.assert_close(got, expected)


def test_samples_reading_their_prompt_once_decode_as_with_a_copy_each(tiny_model_dir: Path, monkeypatch):
    """A model with grouped queries (4 heads reading 2), sampled: the same tokens whether each
    sample's cache holds its prompt (sdpa) or the samples read it once (`SHARED_PREFIX`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig
    from transformers.modeling_utils import AttentionInterface

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = LlamaConfig.from_pretrained(tiny_model_dir, num_key_value_heads=2)
    torch.manual_seed(0)
    folder = tiny_model_dir.parent / "grouped-queries"
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    backend = HFBackend(str(folder), device="cpu", batch_size=8)
    shared = []

    def spy(module, query, key, *rest, **kw):
        shared.append(isinstance(key, SharedKV))
        return shared_prefix_attention(module, query, key, *rest, **kw)

    monkeypatch.setitem(AttentionInterface._global_mapping, SHARED_PREFIX, spy)
    sampling = Sampling(n=4, temperature=1.0, max_new_tokens=16, seed=3)
    once = backend.generate(PROMPTS, sampling)
    assert any(shared)
    backend.model.set_attn_implementation("sdpa")
    assert backend.generate(PROMPTS, sampling) == once


def test_a_soft_capped_model_keeps_eager_attention_and_samples(tiny_model_dir: Path):
    """Gemma-2 (DeepSeek-GRM-27B's base) caps its attention logits, which sdpa cannot: the backend
    leaves such a model on eager attention, prompt caches copied per sample."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma2Config

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = Gemma2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    folder = tiny_model_dir.parent / "soft-capped"
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    backend = HFBackend(str(folder), device="cpu")
    assert backend.model.config._attn_implementation == "eager"
    out = backend.generate(PROMPTS, Sampling(n=3, temperature=1.0, max_new_tokens=6, seed=0))
    assert [len(c) for c in out] == [3, 3, 3]


def test_greedy_tokens_match_transformers_generate(backend: HFBackend):
    inputs = backend.chat(PROMPTS[1:2], return_tensors="pt")
    plain = backend.model.generate(
        **inputs, do_sample=False, max_new_tokens=12, pad_token_id=backend.tokenizer.pad_token_id
    )
    text = backend.tokenizer.decode(plain[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert backend.generate(PROMPTS[1:2], GREEDY)[0][0].text == text


def test_finished_rows_leave_the_batch_and_the_rest_decode_as_generate_does(monkeypatch: pytest.MonkeyPatch):
    from spct.core.items import Item
    from spct.grm import GRM, MINIATURE_MODEL

    backend = HFBackend(MINIATURE_MODEL, device="cpu", dtype="float32", batch_size=8)
    items = [Item.model_validate_json(line) for line in Path("examples/items.jsonl").read_text().splitlines()]
    grm = GRM(backend=backend)
    prompts = [grm.template_for(it).render(it, list(range(len(it.responses)))) for it in items]
    inputs = backend.chat(prompts, padding=True, return_tensors="pt")
    pad = backend.tokenizer.pad_token_id
    plain = backend.model.generate(**inputs, do_sample=False, max_new_tokens=200, pad_token_id=pad)
    expected = [backend._completion(row) for row in plain[:, inputs["input_ids"].shape[1] :].tolist()]
    rows, generate = [], backend.model.generate

    def recording(**kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        return generate(**kwargs)

    monkeypatch.setattr(backend.model, "generate", recording)
    got = backend.generate(prompts, Sampling(n=1, temperature=0.0, max_new_tokens=200))
    assert [c[0] for c in got] == expected
    assert len({c.n_tokens for c in expected}) == len(items) == 5 and rows == [5, 4, 3, 2, 1]  # one leaves at each end
