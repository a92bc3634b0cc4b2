"""Any preference data a user has, evaluated with no code: `spct eval PATH_OR_HUB_NAME`.

    spct eval my-prefs.jsonl                                      # pairwise: prompt, chosen, rejected
    spct eval votes.csv --format best-of-n --columns prompt=question,responses=answers,best=winner
    spct eval org/dataset --split test                            # a hub dataset, by name

A file (JSONL, JSON, Parquet or CSV, gzipped or not) or a folder of them, or a hub dataset, in one
of three formats, each a set of columns (`--columns role=name,...` maps other names onto them):

- `pairwise`: prompt, chosen, rejected: accuracy, as RewardBench's pairs;
- `best-of-n`: prompt, responses (a list) and best (its 0-based index) or scores (one number per
  response; the best is the top one): accuracy, all n shown at once, as RMB's best-of-N;
- `rating`: prompt, response, label (1 or 0; true or false): ROC-AUC, as ReaLMistake.

Optional everywhere: id (else the record's position) and subset (the per-subset table; else one
subset). A prompt is text or a conversation (a list of {role, content} ending with the user's turn);
a response is text or a conversation whose last turn is the assistant's (the turns before it
become the prompt when the record has none, as in HH-RLHF-style data). The format is inferred
from the columns when not given. Records whose labels tie (equal top scores, or chosen identical
to rejected) are counted and left out: no judge can be right on them."""

from __future__ import annotations

import random
from pathlib import Path

from spct.core.items import Item, Message
from spct.eval.benchmarks import TABLES, Benchmark, MissingField, field, listed, pair, records

FORMATS: dict[str, tuple[str, ...]] = {
    "pairwise": ("prompt", "chosen", "rejected"),
    "best-of-n": ("prompt", "responses", "best"),  # or scores instead of best
    "rating": ("prompt", "response", "label"),
}
ROLES = {role for roles in FORMATS.values() for role in roles} | {"scores", "id", "subset"}
LABELS = {1: 1, 0: 0, "1": 1, "0": 0, "true": 1, "false": 0}  # True and False look up as 1 and 0


def parse_columns(text: str | None) -> dict[str, str]:
    """`prompt=question,chosen=answer_a` -> {"prompt": "question", "chosen": "answer_a"}."""
    if not text:
        return {}
    columns = {}
    for part in text.split(","):
        role, sep, name = part.partition("=")
        if not sep or not name.strip() or role.strip() not in ROLES:
            raise ValueError(f"--columns: {part!r} is not ROLE=COLUMN with ROLE one of {', '.join(sorted(ROLES))}")
        columns[role.strip()] = name.strip()
    return columns


def infer_format(record: dict, columns: dict[str, str], where: str) -> str:
    """The format whose response columns the first record has."""
    has = {role for role in ROLES if columns.get(role, role) in record}
    for name, needed in (("pairwise", {"chosen", "rejected"}), ("best-of-n", {"responses"}), ("rating", {"response"})):
        if needed <= has:
            return name
    raise MissingField(
        f"{where}: no format's columns found (has: {', '.join(sorted(record))}); name them with --format and "
        f"--columns, e.g. --columns chosen=answer_a,rejected=answer_b"
    )


def _turns(value: list, where: str, name: str) -> list[Message]:
    try:
        return [Message(role=field(t, "role", where), content=field(t, "content", where)) for t in value]
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: field {name!r} is not a list of {{role, content}} turns ({error})") from error


def _prompt(value, where: str, name: str) -> str | list[Message]:
    if isinstance(value, str):
        return value
    return _turns(listed(value, where, name), where, name)


def _response(value, where: str, name: str) -> tuple[list[Message], str]:
    """(the turns before the answer, the answer): text has none before it."""
    if isinstance(value, str):
        return [], value
    turns = _turns(listed(value, where, name), where, name)
    if not turns or turns[-1].role != "assistant":
        raise ValueError(f"{where}: field {name!r} is a conversation that does not end with the assistant's turn")
    return turns[:-1], turns[-1].content


class _Reader:
    """One record's fields by role, through the column map; every error names file, record and column."""

    def __init__(self, record: dict, columns: dict[str, str], where: str) -> None:
        self.record, self.columns, self.where = record, columns, where

    def name(self, role: str) -> str:
        return self.columns.get(role, role)

    def get(self, role: str):
        return field(self.record, self.name(role), self.where)

    def has(self, role: str) -> bool:
        return self.name(role) in self.record

    def conversation(self, answers: list) -> tuple[str | list[Message], list[str]]:
        """The prompt and the answers' texts: the prompt column, or the turns the answers share."""
        read = [_response(a, self.where, self.name(role)) for role, a in answers]
        before = read[0][0]
        texts = [text for _, text in read]
        if not self.has("prompt") and before and all(turns == before for turns, _ in read):
            return before, texts
        return _prompt(self.get("prompt"), self.where, self.name("prompt")), texts


def _item(r: _Reader, format: str, index: int, subset: str) -> Item | None:
    """The record as an Item, or None when its labels tie."""
    id = str(r.get("id")) if r.has("id") else str(index)
    meta = {"subset": str(r.get("subset")) if r.has("subset") else subset}
    if format == "pairwise":
        prompt, (chosen, rejected) = r.conversation([("chosen", r.get("chosen")), ("rejected", r.get("rejected"))])
        return None if chosen == rejected else pair(id, prompt, chosen, rejected, **meta)
    if format == "rating":
        prompt, (response,) = r.conversation([("response", r.get("response"))])
        label = r.get("label")
        key = label.strip().lower() if isinstance(label, str) else label
        if key not in LABELS:
            raise ValueError(f"{r.where}: field {r.name('label')!r} is {label!r}, not 1/0 or true/false")
        return Item(id=id, query=prompt, responses=[response], rating=LABELS[key], meta=meta)
    responses = listed(r.get("responses"), r.where, r.name("responses"))
    if len(responses) < 2:
        raise ValueError(
            f"{r.where}: field {r.name('responses')!r} has {len(responses)} response(s); best-of-n needs 2+"
        )
    prompt, texts = r.conversation([("responses", a) for a in responses])
    if r.has("best") or not r.has("scores"):
        best = r.get("best")
        if not isinstance(best, int) or not 0 <= best < len(texts):
            raise ValueError(f"{r.where}: field {r.name('best')!r} is {best!r}, not an index in 0..{len(texts) - 1}")
    else:
        scores = listed(r.get("scores"), r.where, r.name("scores"))
        if len(scores) != len(texts) or not all(isinstance(s, int | float) for s in scores):
            raise ValueError(f"{r.where}: field {r.name('scores')!r} is not one number per response")
        if scores.count(max(scores)) > 1:
            return None
        best = scores.index(max(scores))
    order = random.Random(id).sample(range(len(texts)), len(texts))  # the best at a seeded position, as RMB's
    return Item(id=id, query=prompt, responses=[texts[o] for o in order], best=order.index(best), meta=meta)


def benchmark(
    source: str, format: str | None = None, columns: dict[str, str] | None = None, split: str = "train"
) -> Benchmark:
    """A Benchmark over `source` (a path, else a hub dataset name, its `split`); the format is read
    from the first record's columns when not given. Its `left_out` counts, after each load, the
    records whose labels tie."""
    columns = columns or {}
    if format is None:
        where, first = next(iter(records(Path(source), source, split)), (source, {}))
        format = infer_format(first, columns, where)
    if format not in FORMATS:
        raise ValueError(f"--format {format!r}: choose from {', '.join(FORMATS)}")
    left_out: dict[str, int] = {}

    def load(root: Path) -> list[Item]:  # root is unused: the source names its own files
        left_out.clear()
        items: dict[str, Item] = {}
        for index, (where, record) in enumerate(records(Path(source), source, split)):
            if not isinstance(record, dict):
                raise ValueError(f"{where}: not a record of named fields ({str(record)[:60]!r})")
            item = _item(_Reader(record, columns, where), format, index, Path(source).name)
            if item is None:
                left_out["tied labels"] = left_out.get("tied labels", 0) + 1
            elif item.id in items:
                raise ValueError(f"{where}: id {item.id!r} is used by an earlier record too")
            else:
                items[item.id] = item
        if not items:
            raise ValueError(f"{source}: no record to evaluate")
        return list(items.values())

    name = source
    if Path(source).exists():  # the file's name without its table suffix: prefs.jsonl.gz -> prefs
        name = Path(source).name.removesuffix(".gz")
        name = next((name.removesuffix(t) for t in TABLES if name.endswith(t)), name)
    return Benchmark(name, load, metric="ROC-AUC" if format == "rating" else "accuracy", left_out=left_out)
