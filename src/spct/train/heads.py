"""Training a scalar head (one logit on a causal-LM backbone) with binary cross-entropy on
labelled chats: the meta RM (label: the judgment is correct) and the pairwise RM baseline
(label: Response 1 is the better one) share it; only their chats differ."""

from __future__ import annotations

from pathlib import Path

from spct.scaling.scalar import Messages
from spct.train.cards import loss_log, write_cards
from spct.train.checkpoints import resume_point


def train_bce_head(
    base: str,
    examples: list[tuple[Messages, int]],
    out: Path,
    *,
    epochs: float,
    batch_size: int,
    learning_rate: float,
    max_length: int,
    save_steps: int,
    seed: int,
    card: dict,
    card_name: str,
) -> Path:
    """Train, resuming from `out/checkpoints` when a run was cut; writes `out/model` with the
    tokenizer and `card` (plus the loss log and the counts) as `card_name`. Returns the model
    folder. An example longer than `max_length` tokens is left out and counted, never cut (a cut
    judgment would lose its scores)."""
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from spct.backends.hf import bf16_is_fast, training_dtype

    if len({label for _, label in examples}) < 2:
        raise ValueError(f"{len(examples)} examples, all labelled alike: a classifier needs both labels")
    tokenizer = AutoTokenizer.from_pretrained(base, padding_side="right")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = []
    for chat, label in examples:  # one longer than max_length is left out and counted, never cut
        encoded = tokenizer(tokenizer.apply_chat_template(chat, tokenize=False), add_special_tokens=False)
        if len(encoded["input_ids"]) <= max_length:
            rows.append({**encoded, "labels": [float(label)]})
    if not rows:
        raise ValueError(f"all {len(examples)} examples are longer than max_length {max_length}")
    cuda = torch.cuda.is_available()
    # bf16 autocast over fp32 weights where bf16 is fast (as the SFT stages decide it); lengths
    # padded to multiples of 128 bound its one-time compilation per new shape
    bf16 = bf16_is_fast()
    # transformers' multi-label problem type is exactly BCE-with-logits for one label
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=1,
        problem_type="multi_label_classification",
        dtype=training_dtype(),
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        weight_decay=0.01,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        logging_steps=25,
        logging_first_step=True,
        seed=seed,
        use_cpu=not cuda,
        bf16=bf16,
        report_to="none",
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=128 if bf16 else None),
        processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=resume_point(out / "checkpoints"))
    final = out / "model"
    trainer.save_model(str(final))  # the main process writes, whatever the distribution
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(final)
        card = {
            **card,
            "examples": len(rows),
            "bf16": bf16,
            "positive": int(sum(r["labels"][0] for r in rows)),
            "longer than max_length (left out)": len(examples) - len(rows),
            "log": loss_log(trainer),
        }
        write_cards(final, card_name, card)
    return final
