"""PPE (docs/method.md §5), in the formats LMArena publishes on the hub.

- Preference (`lmarena-ai/PPE-Human-Preference-V1`, split test): Chatbot Arena votes with
  `prompt`, `response_1`, `response_2` and `winner` ("model_a", "model_b", "tie", "tie (bothbad)").
  Ties have no right answer and are left out, as PPE's accuracy does.
- Correctness (`lmarena-ai/PPE-<source>-Best-of-K`, split train, for MMLU-Pro, MATH, GPQA,
  MBPP-Plus and IFEval): `prompt`, `response_1..K`, `scores` (1 = verified correct) and
  `sampled_conflict_pairs` ([i, j], 0-based, one right and one wrong). Each conflict pair is one
  pairwise item; the PPE Correctness score is the mean of the five sources' accuracies.

Files go under `<data>/ppe/preference/` and `<data>/ppe/<source>/`; without them the hub is tried.
"""

from __future__ import annotations

from pathlib import Path

from spct.core.items import Item, Message
from spct.eval.benchmarks import Benchmark, field, listed, mean_of_subsets, pair, records

PREFERENCE_HUB = "lmarena-ai/PPE-Human-Preference-V1"
CORRECTNESS_HUB = {
    "mmlu-pro": "lmarena-ai/PPE-MMLU-Pro-Best-of-K",
    "math": "lmarena-ai/PPE-MATH-Best-of-K",
    "gpqa": "lmarena-ai/PPE-GPQA-Best-of-K",
    "mbpp-plus": "lmarena-ai/PPE-MBPP-Plus-Best-of-K",
    "ifeval": "lmarena-ai/PPE-IFEval-Best-of-K",
}


def _query(value, where: str) -> str | list[Message]:
    """A prompt is a string, or (multi-turn) a list of {role, content} turns."""
    if isinstance(value, str):
        return value
    return [
        Message(role=field(t, "role", where), content=field(t, "content", where))
        for t in listed(value, where, "prompt")
    ]


def load_preference(root: str | Path) -> list[Item]:
    items = []
    for where, r in records(Path(root) / "ppe" / "preference", PREFERENCE_HUB, "test"):
        winner = field(r, "winner", where)
        if winner not in ("model_a", "model_b"):
            if not str(winner).startswith("tie"):
                raise ValueError(f"{where}: field 'winner' is {winner!r}, not model_a, model_b or a tie")
            continue
        responses = [field(r, "response_1", where), field(r, "response_2", where)]
        chosen = 0 if winner == "model_a" else 1
        items.append(
            pair(
                f"ppe-pref-{field(r, 'question_id', where)}",
                _query(field(r, "prompt", where), where),
                responses[chosen],
                responses[1 - chosen],
                subset="preference",
                language=r.get("language"),
            )
        )
    return items


def load_correctness(root: str | Path) -> list[Item]:
    items = []
    for source, hub in CORRECTNESS_HUB.items():
        for where, r in records(Path(root) / "ppe" / source, hub, "train"):
            scores = listed(field(r, "scores", where), where, "scores")
            uid = f"ppe-{source}-{field(r, 'question_id', where)}-{r.get('model_name', '')}"
            query = _query(field(r, "prompt", where), where)
            for i, j in listed(field(r, "sampled_conflict_pairs", where), where, "sampled_conflict_pairs"):
                if bool(scores[i]) == bool(scores[j]):
                    raise ValueError(f"{where}: conflict pair {[i, j]} has equal scores {scores[i]!r}")
                right, wrong = (i, j) if scores[i] else (j, i)
                items.append(
                    pair(
                        f"{uid}-{right}-{wrong}",
                        query,
                        field(r, f"response_{right + 1}", where),
                        field(r, f"response_{wrong + 1}", where),
                        subset=source,
                    )
                )
    return items


PREFERENCE = Benchmark("ppe-preference", load_preference, paper="PPE Preference")
CORRECTNESS = Benchmark("ppe-correctness", load_correctness, aggregate=mean_of_subsets, paper="PPE Correctness")
