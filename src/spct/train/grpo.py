"""Rule-based online RL (SPCT stage 2, docs/method.md §4) on TRL's GRPOTrainer.

    spct train grpo --model runs/rft/model --out runs/grpo --easy-from runs/rft/trajectories.jsonl

Each training prompt is an item rendered with a seeded response order (`orders_per_item` of them,
in one step, so that a position habit is not rewarded); the trainer samples a
group of `num_generations` judgments per prompt, and `JudgmentReward` gives each +1 when its
scores, mapped back to the original order, single out the labelled best response (or equal the
rating for n = 1) and -1 otherwise, parse failures included. There is no format reward: the KL
term (beta) keeps the format, as in the paper. Each step also logs the principles' drift
(core/drift.py: specificity to the query, verbatim reuse across queries, contradictions between
critique and scores), plotted beside the reward in grpo.png; `contradiction_penalty` adds the
contradictions as a second, negative reward. TRL does the rest (advantages normalised per
group, clipping, KL to the reference model); `use_vllm` switches rollouts to TRL's vLLM mode.

A LoRA adapter (the RFT stage over a registry base) is merged into its base's weights and GRPO
trains a fresh adapter of the same rank over them: TRL's reference, the model with its adapter
disabled, is then the RFT model itself, as the paper's KL term asks. The two adapters are saved
as one over the base (`stack_adapters`), so the result ships like any stage.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from spct.core.drift import contradicted, principle_drift
from spct.core.items import Item, Sample, query_text
from spct.core.vote import is_correct, make_sample, sample_orders
from spct.grm import Templates, model_templates
from spct.train.cards import write_cards
from spct.train.checkpoints import resume_point
from spct.train.data import training_items
from spct.train.grpo_config import GRPOConfig


class JudgmentReward:
    """The reward of docs/method.md §4: +1 correct, -1 otherwise (failed parses too). TRL passes the
    dataset's `id` and `order` columns, by which each completion is read back to its item."""

    __name__ = "judgment_accuracy"  # TRL logs rewards under the function's name

    def __init__(self, items: Sequence[Item], templates: Templates):
        self.items = {it.id: it for it in items}
        self.templates = templates
        self.failures = 0  # completions whose score block did not parse, over the run

    def samples(self, completions: list, id: list[str], order: list[list[int]]) -> list[tuple[Item, Sample]]:
        out = []
        for completion, item_id, shown in zip(completions, id, order, strict=True):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            item = self.items[item_id]
            out.append((item, make_sample(text, list(shown), score_range=self.templates(item).score_range)))
        return out

    def __call__(
        self, prompts: list, completions: list, id: list[str], order: list[list[int]], log_metric=None, **_
    ) -> list[float]:
        judged = self.samples(completions, id, order)
        self.failures += sum(s.failure is not None for _, s in judged)
        if log_metric is not None:  # TRL averages each over the logging steps
            texts = [(query_text(it), s) for it, s in judged]
            for name, value in principle_drift(texts, self.templates(judged[0][0]).score_range).items():
                log_metric(name, value)
        return [1.0 if is_correct(s.scores, it) else -1.0 for it, s in judged]


class ContradictionReward(JudgmentReward):
    """Minus the share of a judgment's responses scored in the top fifth while its critique says they
    fail (0 for a failed parse: the accuracy reward already punishes it)."""

    __name__ = "contradiction"

    def __call__(self, prompts: list, completions: list, id: list[str], order: list[list[int]], **_) -> list[float]:
        rewards = []
        for item, sample in self.samples(completions, id, order):
            flags = contradicted(sample, self.templates(item).score_range)
            rewards.append(-sum(flags) / len(flags) if flags else 0.0)
        return rewards


def too_easy(trajectories: Path) -> set[str]:
    """Ids of items all of whose unhinted RFT trajectories were correct."""
    easy = set()
    for line in trajectories.read_text().splitlines():
        record = json.loads(line)
        unhinted = [t for t in record["trajectories"] if not t["hinted"]]
        if unhinted and all(t["correct"] for t in unhinted):
            easy.add(record["id"])
    return easy


def prompts(items: Sequence[Item], templates: Templates, seed: int, orders_per_item: int = 1) -> list[dict]:
    """The training prompts in training order: the items shuffled by `seed`, each followed at once
    by its other orders, so that they fall in one optimiser step (TRL's own shuffle is off)."""
    rows = []
    for item in random.Random(seed).sample(list(items), len(items)):
        for order in sample_orders(len(item.responses), orders_per_item, seed, item.id):
            rows.append({"prompt": templates(item).render(item, order), "id": item.id, "order": order})
    return rows


def stack_adapters(first: str, second: Path, out: Path) -> None:
    """Write to `out` one adapter over `first`'s base equal to `first` followed by `second` (an
    adapter trained over `first` merged): PEFT's `cat` combination, exact, ranks added."""
    import tempfile

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from spct.backends.hf import adapter_base
    from spct.backends.pretrained import resolve

    base = adapter_base(resolve(first))
    assert base is not None
    lm = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(resolve(base), dtype=torch.float32), resolve(first), adapter_name="first"
    )
    lm.load_adapter(str(second), adapter_name="second")
    lm.add_weighted_adapter(["first", "second"], [1.0, 1.0], "stacked", combination_type="cat")
    with tempfile.TemporaryDirectory() as tmp:
        lm.save_pretrained(tmp, selected_adapters=["stacked"])  # PEFT writes a named adapter in its own folder
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            shutil.copyfile(Path(tmp) / "stacked" / name, out / name)
    config = json.loads((out / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base
    (out / "adapter_config.json").write_text(json.dumps(config, indent=1))


def run(cfg: GRPOConfig) -> Path:
    """Train, save the model with its templates card and a grpo.json (config, reward log)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig as TRLGRPOConfig
    from trl import GRPOTrainer

    from spct.backends.hf import adapter_base, load_causal_lm, training_dtype
    from spct.backends.pretrained import resolve

    out = Path(cfg.out)
    items = training_items(cfg.data, cfg.items, cfg.seed)
    if cfg.easy_from:
        easy = too_easy(Path(cfg.easy_from))
        items = [it for it in items if it.id not in easy]
    templates = Templates.of(cfg.model)
    reward = JudgmentReward(items, templates)
    cuda = torch.cuda.is_available()
    rollouts = cfg.prompts_per_step * cfg.num_generations  # one generation batch per optimiser step
    micro = cfg.micro_batch or rollouts
    if rollouts % micro:
        raise ValueError(f"micro_batch {micro} must divide the {rollouts} rollouts of a step")
    if cfg.prompts_per_step % cfg.orders_per_item:
        raise ValueError(f"orders_per_item {cfg.orders_per_item} must divide prompts_per_step {cfg.prompts_per_step}")
    args = TRLGRPOConfig(
        output_dir=str(out / "checkpoints"),
        num_generations=cfg.num_generations,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=rollouts // micro,
        beta=cfg.beta,
        epsilon=cfg.epsilon,
        loss_type="grpo",  # the original GRPO objective, as the paper used
        scale_rewards="group",
        temperature=cfg.temperature,
        max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.learning_rate,
        max_steps=cfg.max_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=1,
        logging_steps=5,
        seed=cfg.seed,
        shuffle_dataset=False,  # `prompts` shuffled them, keeping an item's orders together
        use_cpu=not cuda,
        bf16=cuda,
        report_to="none",
        use_vllm=cfg.use_vllm,
        activation_checkpointing=False,  # TRL turns it on; it only costs time at these sizes
        reward_weights=[1.0, cfg.contradiction_penalty] if cfg.contradiction_penalty else None,
    )
    rft_adapter = adapter_base(resolve(cfg.model)) is not None
    model, tokenizer = load_causal_lm(cfg.model, training_dtype())  # an adapter comes merged
    tokenizer.padding_side = "left"
    peft_config = None
    if rft_adapter:
        rank = json.loads((Path(resolve(cfg.model)) / "adapter_config.json").read_text())["r"]
        peft_config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward, *([ContradictionReward(items, templates)] if cfg.contradiction_penalty else [])],
        args=args,
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(prompts(items, templates, cfg.seed, cfg.orders_per_item)),
        peft_config=peft_config,
    )
    trainer.train(resume_from_checkpoint=resume_point(out / "checkpoints"))
    final = out / "model"
    trainer.save_model(str(out / "adapter" if rft_adapter else final))  # the main process writes
    if trainer.accelerator.is_main_process:
        if rft_adapter:
            final.mkdir(parents=True, exist_ok=True)
            stack_adapters(cfg.model, out / "adapter", final)
        else:
            tokenizer.save_pretrained(final)
        card = {
            "config": asdict(cfg),
            "items": len(items),
            "parse failures (this process)": reward.failures,
            "log": trainer.state.log_history,  # the rewards too, logged on steps without a loss
        }
        write_cards(final, "grpo.json", card, model_templates(resolve(cfg.model)))
        plot_log(trainer.state.log_history, final / "grpo.png")
    return final


def plot_log(log: list[dict], path: Path) -> None:
    """The reward and the principles' drift against the step: what a GRPO run is read by."""
    from spct.io import figure

    shown = ("reward", "principles/specificity", "principles/shared_verbatim", "principles/contradictions")
    with figure(path, "GRPO: reward and principle drift", "step", "value") as ax:
        for name in shown:
            points = [(r["step"], r[name]) for r in log if name in r]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=name)
