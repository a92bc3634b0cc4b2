"""The miniature GRM's build config (`spct miniature build`; train/warm_start.py): every field a flag."""

from __future__ import annotations

from dataclasses import dataclass, field

from spct.miniature.teacher import TeacherNoise

MINIATURE_TEMPLATES = {"template": "compact", "binary_template": "compact-binary"}


@dataclass
class MiniatureConfig:
    """The miniature GRM, built from nothing (train/warm_start.py). Defaults: the shipped fixture."""

    out: str = field(default="src/spct/models/miniature-grm", metadata={"help": "where the checkpoint goes"})
    seed: int = field(default=0, metadata={"help": "seeds data, teacher, init and training"})
    train_items: int = field(default=12000, metadata={"help": "training items, one teacher judgment each"})
    vocab_size: int = field(default=4096, metadata={"help": "BPE vocabulary, digits one per token"})
    hidden_size: int = field(default=256, metadata={"help": "model width"})
    num_layers: int = field(default=4, metadata={"help": "transformer blocks"})
    num_heads: int = field(default=4, metadata={"help": "attention heads"})
    max_length: int = field(default=1024, metadata={"help": "longest training sequence, in tokens"})
    templates: dict = field(default_factory=lambda: dict(MINIATURE_TEMPLATES), metadata={"help": "prompt templates"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the teacher judgments"})
    batch_size: int = field(default=8, metadata={"help": "sequences per optimiser step"})
    learning_rate: float = field(default=1e-3, metadata={"help": "peak AdamW learning rate (cosine decay)"})
    teacher_noise: TeacherNoise = field(default_factory=TeacherNoise, metadata={"help": "teacher error rates"})
    init: str | None = field(
        default=None,
        metadata={
            "help": "continue from this checkpoint (its tokenizer and weights; size fields ignored); "
            "give a new seed so the items are fresh"
        },
    )

    def __post_init__(self) -> None:  # `--config FILE.yaml` sets the nested fields, as mappings
        if isinstance(self.teacher_noise, dict):
            self.teacher_noise = TeacherNoise(**self.teacher_noise)
