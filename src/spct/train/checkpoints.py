"""Where a cut training run resumes: its newest *complete* checkpoint. A kill during a save leaves
a checkpoint folder without its trainer state (written last), and with `save_total_limit` the
previous one may still be there; the newest folder alone could be either."""

from __future__ import annotations

from pathlib import Path


def resume_point(workdir: str | Path) -> str | None:
    """The newest checkpoint under `workdir` that has its trainer_state.json, or None (start afresh)."""
    done = [p for p in Path(workdir).glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return str(max(done, key=lambda p: int(p.name.split("-")[1]))) if done else None
