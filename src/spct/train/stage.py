"""What every SPCT training stage does around its trainer: load the model it starts from, and
save what it made with the cards that make it a GRM again (`spct.json`: its templates; a stage
card: config, data counts, loss log)."""

from __future__ import annotations

import json
from pathlib import Path

from spct.train.cards import loss_log, write_cards


def load_trainable(model: str, *, lora_r: int, bf16: bool):
    """(model, tokenizer, peft_config) to train from `model`: a LoRA adapter folder goes on
    training its adapter; a full checkpoint or a named base gets a fresh rank-`lora_r` adapter
    on every linear layer (peft_config for the trainer), or trains in full when `lora_r` is 0."""
    import torch
    from peft import LoraConfig

    from spct.backends.hf import adapter_base, load_causal_lm
    from spct.backends.pretrained import resolve

    lm, tokenizer = load_causal_lm(model, torch.bfloat16 if bf16 else torch.float32, trainable=True)
    if adapter_base(resolve(model)) is not None or not lora_r:
        return lm, tokenizer, None
    return (
        lm,
        tokenizer,
        LoraConfig(
            r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
        ),
    )


def fine_tune(start: str, examples: list[dict], *, lora_r: int, bf16: bool | None, **sft_args):
    """SFT from `start` (see `load_trainable`) on chat examples; returns (trainer, tokenizer, bf16).
    `bf16=None`: where it is fast (`backends.hf.bf16_is_fast`); lengths are then padded to
    multiples of 128, since each new shape costs a one-time compilation under bf16."""
    from spct.backends.hf import bf16_is_fast
    from spct.train.sft import sft

    bf16 = bf16_is_fast() if bf16 is None else bf16
    model, tokenizer, peft_config = load_trainable(start, lora_r=lora_r, bf16=bf16)
    trainer = sft(
        model,
        tokenizer,
        examples,
        bf16=bf16,
        pad_to_multiple_of=128 if bf16 else None,
        peft_config=peft_config,
        **sft_args,
    )
    return trainer, tokenizer, bf16


def save_stage(trainer, tokenizer, start: str, out: Path, templates: dict, card_name: str, card: dict) -> Path:
    """Save the trained model to `out`: an adapter names its base as `start` named it (a registry
    name stays a name, so the folder works on any machine), a full model gets the tokenizer."""
    from spct.backends.hf import adapter_base
    from spct.backends.pretrained import resolve

    trainer.save_model(str(out))  # the main process writes, whatever the distribution
    if not trainer.accelerator.is_main_process:
        return out
    adapter = out / "adapter_config.json"
    if adapter.is_file():
        config = json.loads(adapter.read_text())
        config["base_model_name_or_path"] = adapter_base(resolve(start)) or start
        adapter.write_text(json.dumps(config, indent=1))
    else:
        tokenizer.save_pretrained(out)
    write_cards(out, card_name, {**card, "log": loss_log(trainer)}, templates)
    return out


def ship(stage: str | Path, out: str | Path, cards: tuple[str | Path, ...] = ()) -> Path:
    """Write a trained adapter `stage` folder to `out` as a package default: its config,
    templates and stage cards (with those of earlier stages in `cards`), weights in fp16 (half
    the bytes of fp32; the adapter's values are far inside fp16's range). The tokenizer is the
    base's, so none is copied."""
    import shutil

    from safetensors.torch import load_file, save_file

    stage, out = Path(stage), Path(out)
    if not (stage / "adapter_config.json").is_file():
        raise ValueError(f"{stage}: not an adapter folder (no adapter_config.json); only adapters ship")
    out.mkdir(parents=True, exist_ok=True)
    weights = load_file(stage / "adapter_model.safetensors")
    save_file({k: v.half().contiguous() for k, v in weights.items()}, out / "adapter_model.safetensors")
    kept = ("adapter_config.json", "spct.json", "cold_start.json", "rft.json", "grpo.json")
    copied = []
    for card in [stage / name for name in kept] + [Path(c) for c in cards]:
        if card.is_file():
            if card.resolve() != (out / card.name).resolve():  # a stage re-shipped in place keeps its own
                shutil.copyfile(card, out / card.name)
            copied.append(card.name)
    config = json.loads((stage / "adapter_config.json").read_text())
    (out / "README.md").write_text(
        f"# spct GRM: a LoRA adapter of {config['base_model_name_or_path']}\n\n"
        f"Rank {config['r']} on {', '.join(sorted(config['target_modules']))}; fp16. Written by `spct train ship "
        f"{stage}`. Training cards: {', '.join(c for c in copied if c not in ('spct.json', 'adapter_config.json'))}. "
        "What it was trained on and how it scores: docs/real-grm.md in the spct repository.\n"
    )
    return out
