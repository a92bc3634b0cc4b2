"""The GRM as an RL reward: TRL's reward-function signature in process and through a running
server, verl's compute_score, and one real GRPOTrainer step driven by it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import torch
from helpers import RESPONSE, ScriptedJudge, running

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
        assert adapters.compute_score("gsm8k", "right", "4", {"question": "Is it right?"}) == {
            "score": 1.0,
            "valid": 1.0,
        }
        assert adapters.compute_score("gsm8k", "wrong", "4", {"question": "Is it right?"})["score"] == pytest.approx(
            LOW
        )
        with pytest.raises(ValueError, match="extra_info needs the prompt"):
            adapters.compute_score("gsm8k", "right", "4", {})


class FailsOnFail:
    """Mixed into a judge: every judgment of a query containing 'fail' is unparsable."""

    def generate(self, prompts, sampling):
        judged = super().generate(prompts, sampling)  # type: ignore[misc]
        return [
            [Completion("I cannot judge this.", "stop")] * sampling.n if "fail" in p[0]["content"] else c
            for p, c in zip(prompts, judged, strict=True)
        ]


class FailingJudge(FailsOnFail, ScriptedJudge):
    pass


def test_an_unjudged_completion_gets_none_or_the_configured_reward_never_a_silent_zero():
    prompts, completions = ["Which is right?", "Which is right?", "fail: which?", "fail: which?"], ["right", "no"] * 2
    reward = GRMReward(GRM(backend=FailingJudge()))
    assert asyncio.run(reward(prompts, completions)) == [1.0, pytest.approx(LOW), None, None]
    assert reward.unjudged == 2
    floor = GRMReward(GRM(backend=FailingJudge()), failed=-1.0)
    assert asyncio.run(floor(prompts, completions))[2:] == [-1.0, -1.0]


def test_the_server_reports_unjudged_queries_and_counts_them(monkeypatch: pytest.MonkeyPatch):
    query = ["Q: which?\nA: right", "Q: fail?\nA: right"]
    for failed, expected in ((None, None), (0.25, 0.25)):
        app = create_app(GRM(backend=FailingJudge()), response_marker="\nA: ", failed_reward=failed)
        with running(app) as url:
            got = httpx.post(f"{url}/get_reward", json={"query": query}).json()
            assert got["rewards"] == [1.0, expected] and got["extra_logs"]["valid"] == [1.0, 0.0]
            scored = httpx.post(f"{url}/v1/score", json={"items": [{"query": "fail", "responses": ["a", "b"]}]}).json()
            assert scored["results"][0]["rewards"] is None and scored["results"][0]["n_valid"] == 0
            assert "spct_unjudged_items_total 2.0" in httpx.get(f"{url}/metrics").text
            remote = GRMReward(url=url)
            assert asyncio.run(remote(["fail", "fail"], ["a", "b"])) == [None, None] and remote.unjudged == 2
    monkeypatch.setattr(adapters, "_VERL", GRMReward(GRM(backend=FailingJudge()), failed=0.0))
    assert adapters.compute_score("x", "right", None, {"question": "fail?"}) == {"score": 0.0, "valid": 0.0}


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


def _grpo_args(tmp_path: Path, **options):
    """TRL's GRPO on CPU, groups of four short rollouts, a learning rate that moves a tiny model."""
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(tmp_path),
        num_generations=4,
        max_completion_length=8,
        learning_rate=1e-2,
        beta=0.0,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        activation_checkpointing=False,
        **options,
    )


@pytest.mark.slow
def test_a_real_grpo_step_with_the_grm_reward_changes_the_policy(tiny_model_dir: Path, tmp_path: Path):
    from datasets import Dataset
    from trl import GRPOTrainer

    reward = GRMReward(GRM(backend=LengthJudge()))
    dataset = Dataset.from_list([{"prompt": "the answer is"}] * 8)
    args = _grpo_args(tmp_path, per_device_train_batch_size=4, max_steps=2)
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=[reward], args=args, train_dataset=dataset)
    before = {k: v.clone() for k, v in trainer.model.named_parameters()}
    trainer.train()
    assert [k for k, v in trainer.model.named_parameters() if torch.equal(before[k], v)] == []  # every one trained
    assert any("rewards/grm/mean" in r for r in trainer.state.log_history)  # TRL logged the GRM's reward


class FailingLengthJudge(FailsOnFail, LengthJudge):
    pass


@pytest.mark.slow
def test_in_a_real_grpo_step_unjudged_completions_contribute_nothing(tiny_model_dir: Path, tmp_path: Path):
    from datasets import Dataset
    from trl import GRPOTrainer

    reward = GRMReward(GRM(backend=FailingLengthJudge()))
    seen: list[list[float | None]] = []

    async def logged(prompts, completions, **kwargs):
        seen.append(await reward(prompts, completions, **kwargs))
        return seen[-1]

    logged.__name__ = "grm"
    args = _grpo_args(tmp_path, per_device_train_batch_size=8, max_steps=1, shuffle_dataset=False)
    dataset = Dataset.from_list([{"prompt": "the answer is"}, {"prompt": "fail"}] * 4)
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=[logged], args=args, train_dataset=dataset)
    advantages = []
    score = trainer._generate_and_score_completions

    def scored(inputs):
        out = score(inputs)
        advantages.append(out["advantages"].tolist())
        return out

    trainer._generate_and_score_completions = scored
    trainer.train()
    rewards = [r for batch in seen for r in batch]
    flat = [a for batch in advantages for a in batch]
    assert len(rewards) == len(flat) == 8 and rewards.count(None) == 4 and reward.unjudged == 4
    assert all(a == 0.0 for r, a in zip(rewards, flat, strict=True) if r is None)  # no gradient from them
    assert any(a != 0.0 for r, a in zip(rewards, flat, strict=True) if r is not None)
    logged_mean = [r["rewards/grm/mean"] for r in trainer.state.log_history if "rewards/grm/mean" in r]
    judged = [r for r in rewards if r is not None]
    assert logged_mean == [pytest.approx(sum(judged) / len(judged))]  # the unjudged are left out, not 0
