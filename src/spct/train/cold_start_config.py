from __future__ import annotations

from dataclasses import dataclass, field

from spct.train.fields import bf16_when_fast, checkpoint_every, run_dir


@dataclass
class ColdStartConfig:
    """The format cold start of a pretrained base (before RFT): LoRA SFT on judgments written by
    rule. Defaults fit SmolLM2-135M-Instruct on 2 CPU cores (about 40 s an optimiser step of 8 in fp32)."""

    model: str = field(default="smollm2-135m-instruct", metadata={"help": "the base: a registry name or a folder"})
    data: str = field(default="runs/real/data", metadata={"help": "the folder `spct data build` wrote"})
    out: str = run_dir("runs/real/cold-start")
    verifiable_items: int = field(default=200, metadata={"help": "GSM8K, MATH-500 and MBPP train items, rule-judged"})
    miniature_items: int = field(default=100, metadata={"help": "miniature train items, judged by its teacher"})
    preference_items: int = field(
        default=0,
        metadata={"help": "RMB and HH-RLHF train items, judged by their human label (150 measured no better)"},
    )
    seed: int = field(default=0, metadata={"help": "item draw, response orders, scores and training"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the judgments"})
    batch_size: int = field(default=4, metadata={"help": "sequences per forward pass"})
    gradient_accumulation_steps: int = field(
        default=2, metadata={"help": "forward passes per optimiser step (memory: 8 x 1,500 tokens needs over 20 GB)"}
    )
    learning_rate: float = field(default=3e-4, metadata={"help": "peak learning rate (LoRA)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank on every linear layer (0: full fine-tuning)"})
    max_length: int = field(default=1536, metadata={"help": "longest prompt + judgment in tokens"})
    bf16: bool | None = bf16_when_fast()
    save_steps: int = checkpoint_every(10)
