"""SPCT training: the rejection and reward rules on hand-made cases, then each stage for a few
steps on the embedded miniature GRM (weights must change, runs must resume)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import ScriptedJudge, weights
from safetensors.torch import load_file

from spct.core import Item, Principle, Sample, format_judgment
from spct.core.vote import sample_orders
from spct.grm import GRM, MINIATURE_MODEL, Templates
from spct.scaling.meta_rm import MetaRM
from spct.train.grpo import JudgmentReward, too_easy
from spct.train.rft import statistics, verdicts

REPO = Path(__file__).resolve().parents[1]
PAIR = Item(id="pair", query="q", responses=["a", "b", "c"], best=1, meta={"family": "arithmetic"})
SINGLE = Item(id="single", query="q", responses=["a"], rating=0, meta={"family": "safety"})


def judged(scores: list[int] | None, order: list[int] | None = None) -> Sample:
    order = order or list(range(len(scores or [0, 0, 0])))
    return Sample(order=order, text="t", scores=scores, failure=None if scores else "no_box: none")


def completion(scores: list[int]) -> list[dict]:
    return [{"role": "assistant", "content": format_judgment([Principle(text="p", weight=100)], "c", scores)}]


def test_reward_is_plus_one_only_for_a_strict_correct_judgment_in_the_original_order():
    reward = JudgmentReward([PAIR, SINGLE], Templates.of(MINIATURE_MODEL))  # compact 1..10, compact-binary 0/1
    cases = [
        (completion([2, 9, 3]), "pair", [0, 1, 2], 1.0),
        (completion([9, 2, 3]), "pair", [1, 0, 2], 1.0),  # shown order: the best was shown first
        (completion([2, 9, 9]), "pair", [0, 1, 2], -1.0),  # a tie at the top
        (completion([9, 2, 3]), "pair", [0, 1, 2], -1.0),
        ([{"role": "assistant", "content": "Scores: \\boxed{2, 9}"}], "pair", [0, 1, 2], -1.0),  # wrong count
        ([{"role": "assistant", "content": "no scores at all"}], "pair", [0, 1, 2], -1.0),
        (completion([0]), "single", [0], 1.0),
        (completion([1]), "single", [0], -1.0),
        (completion([7]), "single", [0], -1.0),  # out of the binary range: a parse failure
    ]
    got = reward(
        prompts=[None] * len(cases),
        completions=[c for c, *_ in cases],
        id=[i for _, i, *_ in cases],
        order=[o for *_, o, _ in cases],
    )
    assert got == [r for *_, r in cases] and reward.failures == 3


def test_rejection_rules_too_easy_incorrect_hinted_and_parse_failures():
    easy = verdicts(PAIR, [judged([1, 9, 2]), judged([3, 8, 1])], [])
    assert [v["accepted"] for v in easy] == [False, False] and easy[0]["reason"].startswith("too easy")
    mixed = verdicts(PAIR, [judged([1, 9, 2]), judged([9, 9, 2]), judged(None)], [])
    assert [v["reason"] for v in mixed] == ["correct", "incorrect", "parse failure (no_box)"]
    assert [v["accepted"] for v in mixed] == [True, False, False]
    # no correct unhinted trajectory: a correct hinted one is kept (the too-easy rule does not apply)
    hinted = verdicts(SINGLE, [judged([1], [0]), judged(None, [0])], [judged([0], [0])])
    assert [(v["hinted"], v["accepted"]) for v in hinted] == [(False, False), (False, False), (True, True)]
    stats = statistics(
        [
            {"id": "pair", "family": "arithmetic", "trajectories": mixed},
            {"id": "easy", "family": "arithmetic", "trajectories": easy},
            {"id": "single", "family": "safety", "trajectories": hinted},
            {"id": "old", "family": "all", "trajectories": mixed},  # an earlier version's name for no family
        ]
    )
    assert stats["all"]["items"] == 4 and stats["all"]["accepted"] == 3 and stats["all"]["trajectories"] == 11
    assert stats["arithmetic"]["items too easy"] == 1 and stats["safety"]["items hinted"] == 1
    assert stats["all"]["hinted share of accepted"] == 1 / 3 and stats["all"]["items kept"] == 3


def test_scores_that_only_number_the_responses_as_shown_are_rejected_even_when_right():
    from spct.train.rft import acceptable

    # b (the best) shown last, scored by its slot: right by the label, no judgment
    labels = judged([1, 3, 2], [0, 2, 1])
    reversed_labels = judged([2, 3, 1], [1, 0, 2])  # b shown first, 3, 2, 1
    real = judged([2, 9, 3], [0, 2, 1])
    out = verdicts(PAIR, [labels, reversed_labels, real], [])
    assert [v["correct"] for v in out] == [True, True, True]
    assert [v["reason"] for v in out] == ["scores restate the order shown"] * 2 + ["correct"]
    assert not acceptable(labels, PAIR) and acceptable(real, PAIR)
    # every unhinted sample right but by its slots: not too easy, so hinting gets its turn
    hinted = verdicts(PAIR, [labels, reversed_labels], [judged([2, 9, 3], [0, 2, 1])])
    assert [v["accepted"] for v in hinted] == [False, False, True]
    assert verdicts(SINGLE, [judged([1], [0])], [])[0]["reason"] == "incorrect"  # one response: no slots


def test_the_ablation_without_principles_trains_the_same_judgments_from_their_analysis_on():
    from spct.train.rft import sft_data

    text = format_judgment([Principle(text="Right number", weight=100)], "b is 9: right.", [2, 9, 3])
    records = [
        {
            "id": "pair",
            "trajectories": [
                {"order": [0, 1, 2], "text": text, "accepted": True},
                {"order": [1, 0, 2], "text": "x", "accepted": False},
            ],
        }
    ]
    templates = Templates.of(MINIATURE_MODEL)
    (full,) = sft_data(templates, {"pair": PAIR}, records)
    (bare,) = sft_data(templates, {"pair": PAIR}, records, principles=False)
    assert full["messages"][:-1] == bare["messages"][:-1]  # the same prompt
    assert full["messages"][-1]["content"] == text
    assert bare["messages"][-1]["content"] == "Analysis:\nb is 9: right.\n\nScores: \\boxed{2, 9, 3}"


def test_a_kept_judgment_is_mirrored_into_the_other_orders_and_a_looped_one_is_rejected():
    from spct.core import parse_judgment
    from spct.train.rft import looped, mirrored, sft_data

    analysis = "Response 1 says 9: wrong. Response 3 says 7: right."
    text = f"Specific Criteria:\n1. Right sum\n\nAnalysis:\n{analysis}\n\nScores: \\boxed{{2, 5, 9}}"
    mirrors = mirrored(text, [2, 0, 1])  # shown: c, a, b; the best (b) was shown third
    assert [order for _, order in mirrors] == [[0, 1, 2], [1, 2, 0]]
    first, second = (m for m, _ in mirrors)
    assert "Response 3 says 9: wrong. Response 2 says 7: right." in first and first.endswith("\\boxed{5, 9, 2}")
    assert "Response 2 says 9: wrong. Response 1 says 7: right." in second and second.endswith("\\boxed{9, 2, 5}")
    for m, order in mirrors:  # the same judgment: the same scores per response in the original order
        shown = parse_judgment(m, 3).scores
        assert [shown[order.index(r)] for r in range(3)] == [5, 9, 2]
    assert mirrored(text.replace("Response 1 says", "The first one says"), [2, 0, 1]) == []
    assert mirrored(text.replace("Response 3", "Response 4"), [2, 0, 1]) == []
    assert mirrored("Scores: \\boxed{1}", [0]) == []

    assert looped(text) is None
    assert looped(text + "\n\nScores: \\boxed{1, 2, 3}") == "looped: 2 score blocks"
    assert looped("Analysis:\n" + "Response 1 is the best one.\n" * 3 + "Scores: \\boxed{1, 9, 2}").startswith("looped")
    assert (
        verdicts(PAIR, [Sample(order=[0, 1, 2], text=text + "\nScores: \\boxed{1, 9, 2}", scores=[1, 9, 2])], [])[0][
            "reason"
        ]
        == "looped: 2 score blocks"
    )

    records = [{"id": "pair", "trajectories": [{"order": [2, 0, 1], "text": text, "accepted": True}]}]
    examples = sft_data(Templates.of(MINIATURE_MODEL), {"pair": PAIR}, records, mirror=True)
    assert len(examples) == 3 and examples[1]["messages"][-1]["content"] == first


def unchanged(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> list[str]:
    """The trained tensors that training left as they were: none, for a stage that trains in full."""
    assert before.keys() == after.keys()
    return [k for k in before if torch.equal(before[k], after[k])]


@pytest.fixture(scope="module")
def rft_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spct.train.rft import run
    from spct.train.rft_config import RFTConfig

    out = tmp_path_factory.mktemp("rft")
    cfg = RFTConfig(out=str(out), items=8, n_samples=2, max_new_tokens=160, batch_size=1, save_steps=1000)
    run(cfg)
    return out


@pytest.mark.slow
def test_rft_samples_rejects_fine_tunes_and_resumes(rft_run: Path):
    records = [json.loads(line) for line in (rft_run / "trajectories.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all(len([t for t in r["trajectories"] if not t["hinted"]]) == 2 for r in records)
    for r in records:  # hints only where no unhinted trajectory was right
        unhinted_right = any(t["correct"] for t in r["trajectories"] if not t["hinted"])
        assert any(t["hinted"] for t in r["trajectories"]) == (not unhinted_right)
    stats = json.loads((rft_run / "stats.json").read_text())
    assert stats["all"]["accepted"] == sum(t["accepted"] for r in records for t in r["trajectories"]) > 0
    sampled = stats["principles"]["sampled"]  # the drift of what the model wrote unhinted
    assert len(stats["principles"]["sampled per batch"]) == 1 and sampled["principles/count"] > 0
    model = rft_run / "model"
    assert not unchanged(weights(Path(MINIATURE_MODEL)), weights(model))
    assert json.loads((model / "spct.json").read_text()) == json.loads(
        (Path(MINIATURE_MODEL) / "spct.json").read_text()
    )
    assert GRM(str(model)).templates == GRM(MINIATURE_MODEL).templates  # it judges in its base's templates

    from spct.train.rft import sample_trajectories
    from spct.train.rft_config import RFTConfig

    class NoSampling(ScriptedJudge):
        def generate(self, prompts, sampling):
            raise AssertionError("resumed run sampled again")

    before = (rft_run / "trajectories.jsonl").read_text()
    items = [Item.model_validate({"id": r["id"], "query": "q", "responses": ["x"] * r["n"]}) for r in records]
    sample_trajectories(RFTConfig(), GRM(backend=NoSampling()), items, rft_run / "trajectories.jsonl")
    assert (rft_run / "trajectories.jsonl").read_text() == before


@pytest.mark.slow
def test_grpo_steps_change_the_weights_with_the_accuracy_reward(
    rft_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from spct.train.grpo import run
    from spct.train.grpo_config import GRPOConfig

    steps = []  # (item id, shown order) of each step's rollouts, as the rewards read them
    original = JudgmentReward.samples

    def recorded(self, completions, id, order):
        steps.append((self.items[id[0]], {(i, tuple(o)) for i, o in zip(id, order, strict=True)}))
        return original(self, completions, id, order)

    monkeypatch.setattr(JudgmentReward, "samples", recorded)
    cfg = GRPOConfig(
        model=str(rft_run / "model"),
        out=str(tmp_path),
        items=6,
        max_steps=3,
        prompts_per_step=2,
        orders_per_item=2,  # one item a step, shown in two orders
        micro_batch=4,  # the step's eight rollouts in two passes, gradients accumulated
        max_completion_length=128,
        temperature=1.0,
        easy_from=str(rft_run / "trajectories.jsonl"),
        contradiction_penalty=0.5,
    )
    model = run(cfg)
    assert not unchanged(weights(rft_run / "model"), weights(model))
    card = json.loads((model / "grpo.json").read_text())
    (logged,) = [r for r in card["log"] if "rewards/contradiction/mean" in r]  # the second reward, and the drift
    assert "principles/count" in logged and "principles/contradictions" in logged
    assert (model / "grpo.png").stat().st_size > 0
    rewards = [r["rewards/judgment_accuracy/mean"] for r in card["log"] if "rewards/judgment_accuracy/mean" in r]
    completions = 8 * cfg.max_steps  # two groups of four a step, averaged into one log line (logging_steps 5 > 3)
    (mean,) = rewards  # so the mean of 24 +1/-1 rewards: 2 * (right ones) / 24 - 1
    assert round(completions * (mean + 1) / 2, 6).is_integer()
    assert (model / "spct.json").is_file()
    assert len(steps) == 2 * cfg.max_steps  # each step's batch, read by both rewards
    for item, seen in steps:  # one item a step, in its two orders: a position habit is +1 and -1 alike
        assert seen == {(item.id, tuple(o)) for o in sample_orders(len(item.responses), 2, cfg.seed, item.id)}
    assert len({item.id for item, _ in steps}) > 1  # and the steps walk through the items
    assert any(len(seen) == 2 for _, seen in steps)  # two different orders, where there are two


@pytest.mark.slow
def test_grpo_on_an_adapter_keeps_kl_to_it_and_saves_one_adapter_over_the_base(tmp_path: Path):
    """An RFT adapter over a base: GRPO trains a fresh adapter over the RFT model merged (TRL's
    reference is then the RFT model), and the result is one adapter over the base that equals
    the RFT model followed by the GRPO adapter."""
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from spct.backends.hf import load_causal_lm
    from spct.train.grpo import run
    from spct.train.grpo_config import GRPOConfig

    rft = tmp_path / "rft"
    lm = get_peft_model(
        AutoModelForCausalLM.from_pretrained(MINIATURE_MODEL, dtype=torch.float32),
        LoraConfig(r=2, lora_alpha=4, target_modules="all-linear"),
    )
    torch.manual_seed(0)
    for name, p in lm.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.02)  # a trained-looking adapter, not the zero init
    lm.save_pretrained(rft)
    config = json.loads((rft / "adapter_config.json").read_text())
    (rft / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": MINIATURE_MODEL}))
    (rft / "spct.json").write_text((Path(MINIATURE_MODEL) / "spct.json").read_text())

    cfg = GRPOConfig(
        model=str(rft), out=str(tmp_path / "grpo"), items=6, max_steps=3, prompts_per_step=1,
        max_completion_length=96, temperature=1.0, learning_rate=1e-3,
    )  # fmt: skip
    final = run(cfg)
    stacked = json.loads((final / "adapter_config.json").read_text())
    assert stacked["base_model_name_or_path"] == MINIATURE_MODEL and stacked["r"] == 4
    trained = load_file(tmp_path / "grpo" / "adapter" / "adapter_model.safetensors")
    assert trained and all(v.abs().max() > 0 for k, v in trained.items() if "lora_B" in k)  # B left its zero init

    ids = torch.tensor([[1, 5, 9, 12, 7, 3]])
    rft_model, _ = load_causal_lm(str(rft))
    before = rft_model(ids).logits
    by_hand = PeftModel.from_pretrained(rft_model, tmp_path / "grpo" / "adapter").merge_and_unload()  # + GRPO's
    shipped, _ = load_causal_lm(str(final))
    assert (by_hand(ids).logits - before).abs().max() > 1e-3  # GRPO moved the model ...
    assert torch.allclose(by_hand(ids).logits, shipped(ids).logits, atol=1e-4)  # ... and the one adapter holds both
    assert (final / "spct.json").is_file() and json.loads((final / "grpo.json").read_text())["log"]


def test_too_easy_reads_only_unhinted_trajectories(tmp_path: Path):
    path = tmp_path / "t.jsonl"
    rows = [
        {"id": "easy", "trajectories": [{"hinted": False, "correct": True}, {"hinted": False, "correct": True}]},
        {"id": "hard", "trajectories": [{"hinted": False, "correct": False}, {"hinted": True, "correct": True}]},
        {"id": "mixed", "trajectories": [{"hinted": False, "correct": True}, {"hinted": False, "correct": False}]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert too_easy(path) == {"easy"}


@pytest.mark.slow
def test_meta_rm_trains_on_rft_trajectories_and_scores_judgments(rft_run: Path, tmp_path: Path):
    from spct.train.meta_rm import run
    from spct.train.meta_rm_config import MetaRMConfig

    records = [json.loads(line) for line in (rft_run / "trajectories.jsonl").read_text().splitlines()]
    labels = {t["correct"] for r in records for t in r["trajectories"] if not t["hinted"]}
    if labels != {True, False}:
        pytest.fail(f"the RFT fixture gave only {labels} judgments; pick another seed for it")
    cfg = MetaRMConfig(
        trajectories=str(rft_run / "trajectories.jsonl"),
        items=8,
        out=str(tmp_path),
        batch_size=4,
        epochs=2,
        learning_rate=1e-3,
    )
    model = run(cfg)
    trained, base = weights(model), weights(Path(MINIATURE_MODEL))
    backbone = base.keys() & trained.keys()
    assert "score.weight" in trained and len(backbone) > 10  # the head on the GRM's own backbone
    assert not unchanged({k: base[k] for k in backbone}, {k: trained[k] for k in backbone})  # trained in full
    meta = MetaRM(str(model))
    grm = GRM(MINIATURE_MODEL, max_new_tokens=160, meta_rm=meta)
    item = Item(id="m", query="What is 47 + 38?", responses=["85", "75", "84"], best=0)
    j = grm.score_batch([item], 4, "meta", k_meta=2)[0]
    assert j.strategy == "meta" and all(s.meta_score is not None for s in j.samples if s.ok)
    assert sum(s.in_vote for s in j.samples) == min(2, sum(s.ok for s in j.samples))
    card = json.loads((model / "meta_rm.json").read_text())
    assert card["log"] and card["examples"] == sum(
        len([t for t in r["trajectories"] if not t["hinted"]]) for r in records
    )


@pytest.mark.slow
def test_accelerate_launch_runs_rft_then_grpo_on_two_cpu_processes(tmp_path: Path):
    """The multi-process path of a cluster: `accelerate launch` (torchrun underneath, gloo on CPU);
    RFT's main process samples while both train, then GRPO on both."""
    import subprocess
    import sys

    from spct.backends.local_server import free_port

    def launch(*args: str) -> str:
        command = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(REPO / "configs" / "accelerate-cpu.yaml"),
            "--main_process_port",
            str(free_port()),
            "-m",
            "spct.cli",
            "train",
            *args,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout + result.stderr

    rft, grpo = tmp_path / "rft", tmp_path / "grpo"
    log = launch(
        "rft",
        "--out",
        str(rft),
        "--items",
        "8",
        "--n_samples",
        "2",
        "--max_new_tokens",
        "160",
        "--batch_size",
        "1",
        "--save_steps",
        "1000",
    )
    assert log.count("rft: model written") == 2  # one line per process
    assert len((rft / "trajectories.jsonl").read_text().splitlines()) == 8  # sampled once, not twice
    assert not unchanged(weights(Path(MINIATURE_MODEL)), weights(rft / "model"))
    log = launch(
        "grpo",
        "--model",
        str(rft / "model"),
        "--out",
        str(grpo),
        "--items",
        "4",
        "--max_steps",
        "2",
        "--prompts_per_step",
        "1",
        "--max_completion_length",
        "64",
        "--temperature",
        "1.0",
    )
    assert log.count("grpo: model written") == 2
    steps = [r["step"] for r in json.loads((grpo / "model" / "grpo.json").read_text())["log"]]
    assert steps and max(steps) == 2  # (whether 2 steps move the weights is the single-process test's question)


def sum_judgments(a: int, b: int) -> tuple[Item, Sample, Sample]:
    """An addition with the right sum and one ten off, a judgment that checks it and one that
    takes the wrong sum for right (each consistent with its own scores)."""
    right_sum, wrong_sum = a + b, a + b + 10
    item = Item(
        id=f"{a}+{b}", query=f"What is {a} + {b}?", responses=[f"It is {right_sum}.", f"It is {wrong_sum}."], best=0
    )

    def judged(claim: int, scores: list[int]) -> Sample:
        said = 1 if claim == right_sum else 2
        critique = f"{a} + {b} = {claim}. Response {said} says {claim}: correct."
        return Sample(order=[0, 1], text=format_judgment([Principle(text="Correct sum", weight=100)], critique, scores))

    return item, judged(right_sum, [9, 2]), judged(wrong_sum, [2, 9])


@pytest.mark.slow
def test_the_meta_rm_ranks_judgments_of_items_it_did_not_train_on_better_after_training(tmp_path: Path):
    import random

    from spct.scaling.meta_rm import meta_messages
    from spct.train.heads import train_bce_head

    rng = random.Random(0)
    sums = rng.sample([(a, b) for a in range(10, 60) for b in range(10, 40)], 40)
    train, held_out = [sum_judgments(a, b) for a, b in sums[:24]], [sum_judgments(a, b) for a, b in sums[24:]]

    def ranked(model: str) -> float:  # the share of held-out items whose right judgment scores higher
        scores = MetaRM(model).score([(item, s) for item, right, wrong in held_out for s in (right, wrong)])
        return sum(r > w for r, w in zip(scores[::2], scores[1::2], strict=True)) / len(held_out)

    examples = [
        ex for item, right, wrong in train for ex in ((meta_messages(item, right), 1), (meta_messages(item, wrong), 0))
    ]
    item, right, _ = train[0]
    long = right.model_copy(update={"text": right.text + " padding" * 600})  # past max_length: left out, not cut
    model = train_bce_head(
        MINIATURE_MODEL,
        [*examples, (meta_messages(item, long), 1)],
        tmp_path,
        epochs=3,
        batch_size=4,
        learning_rate=1e-3,
        max_length=512,
        save_steps=1000,
        seed=0,
        card={},
        card_name="meta_rm.json",
    )
    torch.manual_seed(0)  # the untrained head's initialisation
    before, after = ranked(MINIATURE_MODEL), ranked(str(model))  # the GRM under an untrained head, then trained
    assert after >= 0.8 and after > before + 0.2, (before, after)
    card = json.loads((model / "meta_rm.json").read_text())
    assert card["examples"] == len(examples) and card["longer than max_length (left out)"] == 1
