"""`spct export --gguf OUT`: a GRM as one GGUF file, its adapter merged, for llama.cpp's server
and Ollama, where users already run local models.

    spct export --gguf smollm2-grm.gguf                                   # the embedded default, f16
    spct export --gguf grm-q8.gguf --type q8_0 --model runs/real/rft/model
    llama-server -m smollm2-grm.gguf --port 8080
    spct score items.jsonl -o j.jsonl --backend openai --base-url http://127.0.0.1:8080/v1 --model smollm2-grm

The base must be a named registry model (`backends.pretrained`): its GGUF's metadata (the
architecture's hyper-parameters, the tokenizer, the chat template) is copied unchanged, so the
file tokenises and chats exactly as the base does, and only the tensors are new: the merged
weights, in llama.cpp's names and layout (q and k rows permuted for llama, as its converter does).
Matrices are written f16 or q8_0, norms f32 (llama.cpp's convention). The checkpoint's
`spct.json` rides along as the key `spct.json`, so `--model file.gguf` judges with the templates
it was trained with.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gguf
import numpy as np
import torch

from spct.backends.base import BackendError
from spct.backends.hf import adapter_base, load_causal_lm
from spct.backends.pretrained import PRETRAINED, resolve, write_gguf

TYPES = {"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}
ARCHES = {name: arch for arch, name in gguf.MODEL_ARCH_NAMES.items()}
CARD_KEY = "spct.json"  # the checkpoint's spct.json, so that the file judges with its own templates
SKIPPED_KEYS = ("GGUF.", "general.architecture", "general.file_type", "general.name")  # the writer's own


def permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's row order for q and k of a llama model (rotary halves interleaved per head)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _encoded(w: np.ndarray, kind: str) -> tuple[np.ndarray, gguf.GGMLQuantizationType | None]:
    if w.ndim == 1:
        return w.astype(np.float32), None
    if kind == "q8_0" and w.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
        return gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
    return w.astype(np.float16), None


def export(model: str, out: Path, kind: str = "f16") -> Path:
    """Write `model` (a registry base, or a LoRA adapter over one) to `out` as a GGUF file."""
    if kind not in TYPES:
        raise ValueError(f"--type {kind!r}: choose one of {', '.join(TYPES)}")
    base = adapter_base(resolve(model)) or model
    if base not in PRETRAINED:
        raise BackendError(
            f"{model}: a GGUF export copies the tokenizer and metadata of a registry base's GGUF "
            f"({', '.join(PRETRAINED)}); this model's base is {base!r}"
        )
    lm, _ = load_causal_lm(model, torch.float32)
    config = lm.config
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "base.gguf"
        write_gguf(base, PRETRAINED[base], source)
        reader = gguf.GGUFReader(source)
        arch = reader.fields["general.architecture"].contents()
        writer = gguf.GGUFWriter(str(out), arch)
        for f in reader.fields.values():
            if not f.name.startswith(SKIPPED_KEYS):
                array = f.types[0] == gguf.GGUFValueType.ARRAY
                writer.add_key_value(f.name, f.contents(), f.types[0], sub_type=f.types[-1] if array else None)
    writer.add_name(f"{Path(model).name} (spct GRM on {base})")
    card = Path(resolve(model)) / "spct.json"
    if card.is_file():  # the templates it was trained with, read back by grm.model_templates
        writer.add_string(CARD_KEY, card.read_text())
    writer.add_file_type(TYPES[kind])
    names = gguf.get_tensor_name_map(ARCHES[arch], config.num_hidden_layers)
    for name, tensor in lm.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue  # llama.cpp reads the tied output layer from token_embd
        w = tensor.numpy()
        if arch == "llama" and name.endswith("q_proj.weight"):
            w = permute(w, config.num_attention_heads)
        elif arch == "llama" and name.endswith("k_proj.weight"):
            w = permute(w, config.num_key_value_heads)
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise BackendError(f"{model}: tensor {name} has no GGUF name for architecture {arch!r}")
        data, qtype = _encoded(w, kind)
        writer.add_tensor(target, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
