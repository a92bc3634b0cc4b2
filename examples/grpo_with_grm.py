"""Train a policy for a few GRPO steps with the GRM as its reward (TRL, CPU is enough).

    python examples/grpo_with_grm.py                                  # the embedded GRM, in process
    spct serve --token s3cret & python examples/grpo_with_grm.py --url http://127.0.0.1:8000 --token s3cret

The policy here is the embedded miniature checkpoint itself (a small causal LM that knows the
miniature world's vocabulary), asked the world's arithmetic questions; any causal LM name or path
works with --policy. Each prompt's group of completions is judged as one multi-response item, so
the GRM compares them with each other under principles it writes once per prompt.
"""

from __future__ import annotations

import argparse

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from spct.grm import MINIATURE_MODEL
from spct.miniature.world import generate
from spct.serve.adapters import GRMReward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default=MINIATURE_MODEL, help="causal LM to train (name or path)")
    parser.add_argument("--url", help="a running `spct serve`; default: the embedded GRM in process")
    parser.add_argument("--token")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", default="runs/grpo-with-grm")
    args = parser.parse_args()

    prompts = [it.query for it in generate(200, "train", 0) if it.meta["family"] == "arithmetic"][:16]
    reward = GRMReward(url=args.url, token=args.token)
    config = GRPOConfig(
        output_dir=args.out,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=48,
        max_steps=args.steps,
        learning_rate=1e-5,
        beta=0.0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        activation_checkpointing=False,
        use_cpu=True,
    )
    trainer = GRPOTrainer(
        model=args.policy,
        reward_funcs=[reward],
        args=config,
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
    )
    trainer.train()
    rewards = [r["rewards/grm/mean"] for r in trainer.state.log_history if "rewards/grm/mean" in r]
    print(f"mean GRM reward per step: {', '.join(f'{r:.3f}' for r in rewards)}")
    trainer.save_model(f"{args.out}/model")


if __name__ == "__main__":
    main()
