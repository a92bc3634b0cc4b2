"""The config fields several `spct train` stages share, each declared once (its type, its help);
a stage's `*_config.py` picks its own default."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def run_dir(default: str, holds: str = "checkpoints and model/") -> Any:
    return field(default=default, metadata={"help": f"run directory: {holds}"})


def labelled_data(default: str = "miniature") -> Any:
    return field(default=default, metadata={"help": "'miniature' (world train split) or a labelled JSONL"})


def checkpoint_every(default: int) -> Any:
    return field(default=default, metadata={"help": "checkpoint interval; a rerun resumes from the last"})


def bf16_when_fast() -> Any:
    return field(
        default=None,
        metadata={"help": "bf16 training; default: where it is fast (a GPU, AMX or AVX512-BF16; 25x slower on AVX2)"},
    )
