from __future__ import annotations

from dataclasses import dataclass, field

from spct.grm import MINIATURE_MODEL
from spct.train.fields import checkpoint_every, run_dir


@dataclass
class MetaRMConfig:
    """The meta RM (docs/method.md §3-4): a scalar head trained with binary cross-entropy to tell correct
    sampled judgments from incorrect ones. Defaults fit the miniature on 2 CPU cores."""

    trajectories: str = field(
        default="runs/rft/trajectories.jsonl", metadata={"help": "RFT trajectories; the unhinted ones are used"}
    )
    data: str = field(
        default="miniature", metadata={"help": "the items those trajectories judged: 'miniature' or a JSONL"}
    )
    items: int = field(default=2000, metadata={"help": "as many items as the RFT run drew"})
    seed: int = field(default=2, metadata={"help": "the RFT run's seed (same items); also seeds training"})
    base: str = field(default=MINIATURE_MODEL, metadata={"help": "backbone under the scalar head (its tokenizer too)"})
    grm: str | None = field(
        default=None, metadata={"help": "a trained GRM to sample n_samples more judgments per item from (paper: yes)"}
    )
    n_samples: int = field(default=3, metadata={"help": "judgments sampled per item from `grm` (paper: 3)"})
    out: str = run_dir("runs/meta-rm")
    epochs: float = field(default=1.0, metadata={"help": "passes over the labelled judgments"})
    batch_size: int = field(default=8, metadata={"help": "judgments per optimiser step (paper: 512)"})
    learning_rate: float = field(default=1e-4, metadata={"help": "learning rate (paper, 27B: 1e-5)"})
    max_length: int = field(default=1024, metadata={"help": "longest input in tokens"})
    save_steps: int = checkpoint_every(200)
