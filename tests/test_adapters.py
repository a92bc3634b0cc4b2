"""The GRM as an RL reward: TRL's reward-function signature in process and through a running
server, verl's compute_score, and one real GRPOTrainer step driven by it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch
from conftest import RESPONSE, ScriptedJudge, running

from spct.backends import Completion
from spct.core import format_judgment
from spct.grm import GRM
from spct.serve import adapters
from spct.serve.adapters import GRMReward
from spct.serve.app import create_app

PROMPTS = ["Which is right?"] * 3 + ["And now?"] * 2
COMPLETIONS = ["wrong", "right", "nope", [{"role": "assistant", "content": "right"}], "no"]
LOW = 1 / 9  # the scripted judge gives 2 on the 1..10 scale, mapped to [0, 1]


def test_a_prompts_completions_are_judged_together_as_one_item():
    judge = ScriptedJudge()
    reward = GRMReward(GRM(backend=judge))
    got = asyncio.run(reward(prompts=PROMPTS, completions=COMPLETIONS, completion_ids=None))
    assert got == [pytest.approx(LOW), 1.0, pytest.approx(LOW), 1.0, pytest.approx(LOW)]
    assert [n for n, _ in judge.calls] == [2]  # one call; one prompt (3 then 2 responses) per item


def test_the_same_rewards_through_a_running_server_and_verl_compute_score(monkeypatch: pytest.MonkeyPatch):
    with running(create_app(GRM(backend=ScriptedJudge()), token="t")) as url:
        reward = GRMReward(url=url, token="t")
        got = asyncio.run(reward(prompts=PROMPTS, completions=COMPLETIONS))
        assert got == [pytest.approx(LOW), 1.0, pytest.approx(LOW), 1.0, pytest.approx(LOW)]
        monkeypatch.setenv("SPCT_URL", url)
        monkeypatch.setenv("SPCT_TOKEN", "t")
        monkeypatch.setattr(adapters, "_VERL", None)
        assert adapters.compute_score("gsm8k", "right", "4", {"question": "Is it right?"}) == 1.0
        assert adapters.compute_score("gsm8k", "wrong", "4", {"question": "Is it right?"}) == pytest.approx(LOW)
        with pytest.raises(ValueError, match="extra_info needs the prompt"):
            adapters.compute_score("gsm8k", "right", "4", {})


class LengthJudge(ScriptedJudge):
    """Scores each shown response by its length: a group of random completions gets different
    rewards, so GRPO's advantages are not all zero."""

    def generate(self, prompts, sampling):
        return [
            [
                Completion(
                    format_judgment(
                        [], "by length", [min(10, 1 + len(r) // 4) for r in RESPONSE.findall(p[0]["content"])]
                    ),
                    "stop",
                )
            ]
            * sampling.n
            for p in prompts
        ]


@pytest.mark.slow
def test_a_real_grpo_step_with_the_grm_reward_changes_the_policy(tiny_model_dir: Path, tmp_path: Path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    reward = GRMReward(GRM(backend=LengthJudge()))
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8,
        max_steps=2,
        learning_rate=1e-2,
        beta=0.0,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        activation_checkpointing=False,
    )
    dataset = Dataset.from_list([{"prompt": "the answer is"}] * 8)
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=[reward], args=args, train_dataset=dataset)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    logged = [r["rewards/grm/mean"] for r in trainer.state.log_history if "rewards/grm/mean" in r]
    assert logged and all(0.0 <= r <= 1.0 for r in logged)
