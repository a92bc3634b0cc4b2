from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from spct.miniature.tokenizer import tiny_causal_lm, train_tokenizer

CHAT = [
    {"role": "system", "content": "Judge fairly."},
    {"role": "user", "content": "Is the answer clear?"},
    {"role": "assistant", "content": "The answer is clear. Score: 10"},
]


@pytest.fixture(scope="module")
def tokenizer(texts: list[str]):
    return train_tokenizer(texts, vocab_size=500)


def test_digits_are_one_token_each(tokenizer):
    tokens = tokenizer.tokenize("Score: 2025")
    assert tokens[-4:] == ["2", "0", "2", "5"]


def test_special_tokens_and_padding_side(tokenizer):
    assert (tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token) == ("<|pad|>", "<|end|>", None)
    assert tokenizer.padding_side == "left"
    assert tokenizer.convert_tokens_to_ids("<|assistant|>") in tokenizer.all_special_ids


def test_chat_template_renders_every_turn(tokenizer):
    text = tokenizer.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True)
    assert text == "<|system|>\nJudge fairly.<|end|>\n<|user|>\nIs the answer clear?<|end|>\n<|assistant|>\n"


def test_save_and_reload_keep_the_chat_template(tokenizer, tmp_path: Path):
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.chat_template == tokenizer.chat_template
    assert reloaded.padding_side == "left"
    assert reloaded.apply_chat_template(CHAT, tokenize=False) == tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert reloaded.tokenize("Score: 2025") == tokenizer.tokenize("Score: 2025")


def test_assistant_mask_covers_exactly_the_assistant_content(tokenizer):
    out = tokenizer.apply_chat_template(CHAT, return_assistant_tokens_mask=True, return_dict=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    first, last = mask.index(1), len(mask) - mask[::-1].index(1)
    assert all(mask[first:last]) and sum(mask) == last - first  # one span
    assert tokenizer.decode(ids[first:last]) == "The answer is clear. Score: 10<|end|>"


@pytest.mark.slow
def test_trl_trains_on_assistant_tokens_only(tiny_model_dir: Path, tmp_path: Path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    dataset = Dataset.from_list([{"messages": CHAT}] * 4)
    args = SFTConfig(
        output_dir=str(tmp_path),
        assistant_only_loss=True,
        max_steps=1,
        per_device_train_batch_size=4,
        use_cpu=True,
        report_to="none",
        activation_checkpointing=False,
        save_strategy="no",
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    labels = [t for t in trainer.train_dataset[0]["labels"] if t != -100]
    assert tokenizer.decode(labels) == "The answer is clear. Score: 10<|end|>"
    trainer.train()


def test_tiny_causal_lm_takes_vocabulary_and_special_ids_from_the_tokenizer(tokenizer):
    model = tiny_causal_lm(tokenizer, hidden_size=32)
    assert model.config.vocab_size == len(tokenizer) and model.config.tie_word_embeddings
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
