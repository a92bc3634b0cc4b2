from __future__ import annotations

from dataclasses import dataclass, field

from spct.train.fields import checkpoint_every, labelled_data, run_dir


@dataclass
class GRPOConfig:
    """Rule-based online RL (docs/method.md §4): GRPO with a +1/-1 accuracy reward and no format reward.
    Defaults fit the miniature GRM on 2 CPU cores; the paper's values are in the help texts."""

    model: str = field(default="runs/rft/model", metadata={"help": "the GRM to improve, usually the RFT model"})
    out: str = run_dir("runs/grpo")
    data: str = labelled_data()
    items: int = field(default=1000, metadata={"help": "training prompts (one shuffled order per item)"})
    seed: int = field(default=3, metadata={"help": "item draw, orders, sampling and training"})
    easy_from: str | None = field(
        default=None,
        metadata={
            "help": "an RFT trajectories.jsonl: drop items all of whose unhinted trajectories were correct "
            "(zero advantage, docs/method.md §4)"
        },
    )
    orders_per_item: int = field(
        default=1,
        metadata={
            "help": "response orders per item, all in one optimiser step (rotations, core/vote.py sample_orders): "
            "2 shows a pair both ways, so a position habit earns +1 and -1 alike and no gradient; "
            "prompts_per_step must be a multiple"
        },
    )
    num_generations: int = field(default=4, metadata={"help": "group size G (paper: 4)"})
    beta: float = field(default=0.08, metadata={"help": "KL coefficient (paper: 0.08 for 27B, 0.002 for 16B)"})
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range (not given by the paper)"})
    temperature: float = field(default=0.7, metadata={"help": "rollout temperature (not given by the paper)"})
    max_completion_length: int = field(default=256, metadata={"help": "longest rollout (not given by the paper)"})
    learning_rate: float = field(default=1e-5, metadata={"help": "learning rate (paper, 27B: 4e-7)"})
    prompts_per_step: int = field(default=2, metadata={"help": "prompts per optimiser step (paper: 512 rollouts)"})
    micro_batch: int = field(
        default=0,
        metadata={
            "help": "rollouts per forward/backward pass, the step's gradients accumulated (0: all of the step's); "
            "SmolLM2-135M with 1,300-token rollouts took 24 GB at 8"
        },
    )
    contradiction_penalty: float = field(
        default=0.0,
        metadata={
            "help": "weight of a second reward, minus the share of a judgment's responses scored high while its "
            "critique says they fail (core/drift.py); 0: the paper's accuracy reward alone"
        },
    )
    max_steps: int = field(default=200, metadata={"help": "optimiser steps (paper: 900)"})
    save_steps: int = checkpoint_every(50)
    use_vllm: bool = field(default=False, metadata={"help": "generate rollouts with TRL's vLLM mode (needs vllm)"})
