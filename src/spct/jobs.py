"""Long judging jobs: judgments appended to a JSONL as they finish, read back on a rerun, so a
cut job resumes where it stopped. What `spct eval` judges with.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from spct.backends.base import Backend
from spct.core.defaults import SCORING
from spct.core.items import Item, Judgment
from spct.grm import GRM
from spct.io import JsonlWriter, done_ids


def judge_to(
    backend: Backend,
    items: list[Item],
    k: int,
    temperature: float,
    path: Path,
    batch_size: int,
    max_new_tokens: int,
) -> dict[str, Judgment]:
    """Judgments of `items`, read back from `path` where a previous run left them (and written as
    they finish, so that a rerun resumes)."""
    done = done_ids(path)
    todo = [it for it in items if it.id not in done]
    with JsonlWriter(path, append=True) as writer:
        grm = GRM(  # the model's own templates
            backend=backend, temperature=temperature, max_new_tokens=max_new_tokens, per_order=SCORING.eval_per_order
        )
        for j in tqdm(
            grm.score_items(todo, k=k, batch_size=batch_size),
            total=len(todo),
            desc=f"{path.parent.name}/{path.stem}",
            disable=not todo,
        ):
            writer.write(j)
    return {j.id: j for j in (Judgment.model_validate_json(line) for line in path.read_text().splitlines())}
