from __future__ import annotations

from dataclasses import dataclass, field

from spct.grm import MINIATURE_MODEL
from spct.train.fields import checkpoint_every, labelled_data, run_dir


@dataclass
class BaselineConfig:
    """A scalar baseline of the paper's comparison (docs/method.md §6), trained on the same labelled items
    as SPCT: `bt`, a Bradley-Terry RM rating one response (DeepSeek-BTRM), `pair`, a pairwise RM
    rating which of two responses is better (DeepSeek-PairRM), or `judge`, LLM-as-a-judge naming
    the best response's index, or `cloud`, critique-then-value (CLoud). Defaults fit the miniature
    on 2 CPU cores and match `spct train rft`'s items (same seed, same count)."""

    kind: str = field(
        default="bt",
        metadata={
            "help": "bt (Bradley-Terry, one response), pair (two responses), judge (best index) "
            "or cloud (the GRM's critique, then a Bradley-Terry value)"
        },
    )
    base: str = field(default=MINIATURE_MODEL, metadata={"help": "backbone under the scalar head (its tokenizer too)"})
    data: str = labelled_data()
    items: int = field(default=1500, metadata={"help": "training items (as many as the RFT run)"})
    seed: int = field(default=2, metadata={"help": "the RFT run's seed (same items); also seeds training"})
    trajectories: str = field(
        default="runs/rft/trajectories.jsonl",
        metadata={"help": "kind judge: RFT trajectories; the accepted ones are rewritten to name the best index"},
    )
    out: str = run_dir("runs/bt-rm")
    epochs: float = field(default=1.0, metadata={"help": "passes over the training pairs"})
    batch_size: int = field(default=8, metadata={"help": "pairs per optimiser step"})
    learning_rate: float = field(default=1e-4, metadata={"help": "learning rate"})
    max_length: int = field(default=1024, metadata={"help": "longest input in tokens"})
    save_steps: int = checkpoint_every(200)
