"""The cards spct writes beside the weights it trains, in one place: `spct.json`, the templates the
model judges with (what `grm.model_templates` reads, so that the folder is a GRM again), and one
card per stage (`cold_start.json`, `rft.json`, `grpo.json`, `meta_rm.json`, `baseline.json`,
`spct_build.json`): its config, data counts and loss log."""

from __future__ import annotations

import json
from pathlib import Path


def loss_log(trainer) -> list[dict]:
    """The trainer's logged steps that carry a loss (its last line is the run's summary)."""
    return [r for r in trainer.state.log_history if "loss" in r]


def write_cards(folder: Path, name: str, card: dict, templates: dict | None = None) -> None:
    """The stage card `name` and, for a GRM, `spct.json` naming its templates."""
    if templates is not None:
        (folder / "spct.json").write_text(json.dumps({"templates": templates}, indent=1))
    (folder / name).write_text(json.dumps(card, indent=1))
