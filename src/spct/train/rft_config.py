from __future__ import annotations

from dataclasses import dataclass, field

from spct.grm import MINIATURE_MODEL
from spct.train.fields import bf16_when_fast, checkpoint_every, labelled_data, run_dir


@dataclass
class RFTConfig:
    """Rejective fine-tuning (docs/method.md §4). Defaults fit the miniature GRM on 2 CPU cores; the
    paper's values for a 27B model are in the help texts."""

    model: str = field(
        default=MINIATURE_MODEL, metadata={"help": "the GRM that samples and is fine-tuned (path or hub name)"}
    )
    out: str = run_dir("runs/rft", "trajectories, statistics, checkpoints, model")
    data: str = labelled_data()
    items: int = field(default=2000, metadata={"help": "training items to sample on"})
    seed: int = field(default=2, metadata={"help": "item draw, response orders, sampling and training"})
    n_samples: int = field(default=3, metadata={"help": "unhinted trajectories per item (paper: N_RFT = 3)"})
    temperature: float = field(default=0.5, metadata={"help": "sampling temperature of the trajectories"})
    hinted: bool = field(
        default=True,
        metadata={"help": "hinted sampling for items with no correct unhinted trajectory (off: the paper's ablation)"},
    )
    principles: bool = field(
        default=True,
        metadata={
            "help": "fine-tune on the generated principles too (off: the paper's ablation without principle "
            "generation; the kept judgments are trained from their analysis on)"
        },
    )
    mirror: bool = field(
        default=True,
        metadata={
            "help": "also train on each kept judgment relabelled into the other rotations of its response order, "
            "so the best response is shown in every position equally often (beyond the paper: against the "
            "position bias of a small GRM; off: the paper's RFT)"
        },
    )
    hint_samples: int = field(default=1, metadata={"help": "hinted trajectories per such item (paper: 1)"})
    max_new_tokens: int = field(default=256, metadata={"help": "longest trajectory"})
    sample_batch: int = field(default=16, metadata={"help": "items per backend call while sampling"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the kept trajectories"})
    batch_size: int = field(default=8, metadata={"help": "sequences per optimiser step (paper: 1024)"})
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate (paper, 27B: 5e-6)"})
    lora_r: int = field(
        default=0,
        metadata={
            "help": "LoRA rank for a full checkpoint (0: full fine-tuning); an adapter folder trains its adapter"
        },
    )
    bf16: bool | None = bf16_when_fast()
    max_length: int = field(default=1024, metadata={"help": "longest prompt + trajectory in tokens"})
    save_steps: int = checkpoint_every(200)
