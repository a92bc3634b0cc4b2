"""JSONL in and out for long jobs: bad records are reported by line and field without stopping
the job, and results are appended as they are made so that `--resume` loses nothing. And the one
PNG helper every stage and evaluation draws its figures with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spct.core.items import Item


class InputError(ValueError):
    """One bad input record; the message names the line and the field."""


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"]) or "record"
        parts.append(f"field '{field}': {e['msg']}")
    return "; ".join(parts)


MAX_CHARS = 200_000  # per text (the query, a turn of it, a response): far beyond any model's context


def _too_long(item: Item, limit: int) -> str | None:
    """The first text over `limit` characters, as a field path; a model would only see it truncated."""
    texts = (
        [("query", item.query)]
        if isinstance(item.query, str)
        else [(f"query.{i}.content", m.content) for i, m in enumerate(item.query)]
    )
    texts += [(f"responses.{i}", r) for i, r in enumerate(item.responses)]
    return next(
        (f"field '{name}': {len(t):,} characters, over the limit of {limit:,}" for name, t in texts if len(t) > limit),
        None,
    )


def read_items(path: str | Path, max_chars: int = MAX_CHARS) -> Iterator[Item | InputError]:
    """Every record of a JSONL file as an Item, or an InputError for a bad one (and go on)."""
    seen: set[str] = set()
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")  # a BOM, as Windows tools write
            except UnicodeDecodeError as e:
                yield InputError(f"{path}:{lineno}: not valid UTF-8 ({e.reason} at byte {e.start})")
                continue
            if not line.strip():
                continue
            try:
                item = Item.model_validate_json(line)
            except ValidationError as e:
                if e.errors()[0]["type"] == "json_invalid":
                    yield InputError(f"{path}:{lineno}: not valid JSON ({e.errors()[0]['msg']})")
                else:
                    rid = _record_id(line)
                    yield InputError(f"{path}:{lineno}{f' (id {rid!r})' if rid else ''}: {_describe(e)}")
                continue
            if too_long := _too_long(item, max_chars):
                yield InputError(f"{path}:{lineno} (id {item.id!r}): {too_long}")
                continue
            if item.id in seen:
                yield InputError(f"{path}:{lineno}: field 'id': {item.id!r} appears more than once")
                continue
            seen.add(item.id)
            yield item


def _record_id(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return str(record["id"]) if isinstance(record, dict) and "id" in record else None


def done_ids(path: str | Path) -> set[str]:
    """Ids already written to an output file. A last line cut off by a kill (no newline and not
    a whole record) is removed first, so appending after it cannot corrupt the file; a whole
    last record without its newline gets the newline. Any other bad line is an InputError
    naming the file and the line: the file is not one this job wrote."""
    path = Path(path)
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        last = data[data.rfind(b"\n") + 1 :]
        data = data + b"\n" if _record_id(last.decode("utf-8", "replace")) is not None else data[: -len(last)]
        path.write_bytes(data)
    ids = set()
    for lineno, raw in enumerate(data.splitlines(), 1):
        rid = _record_id(raw.decode("utf-8", "replace")) if raw.strip() else ""
        if rid is None:
            raise InputError(
                f"{path}:{lineno}: not a judgment record with an id; this output was not written by "
                "spct (or was edited): move it away or drop --resume"
            )
        if rid:
            ids.add(rid)
    return ids


class JsonlWriter:
    """Appends one record per line and flushes it, so a killed job keeps every finished record."""

    def __init__(self, path: str | Path, append: bool):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115 (closed by __exit__/close)

    def write(self, record: BaseModel | dict) -> None:
        text = record.model_dump_json() if isinstance(record, BaseModel) else json.dumps(record)
        self._f.write(text + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def figure(path: Path, title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (6, 4)) -> Iterator[Any]:
    """The axes of one PNG figure, saved to `path` with its labels (and a legend, where something
    is labelled) when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    yield ax
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
