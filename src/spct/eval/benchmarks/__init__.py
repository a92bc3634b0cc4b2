"""One file per benchmark: each `load(root, ...)` maps the published files to core Items (pairs
and best-of-N lists with `best`, single responses with `rating`), `meta["subset"]` naming the
subset its metric groups by. `root` is the folder holding the files (here ../shared/data)."""

from __future__ import annotations

import random

from spct.core.items import Item, Message


def pair(id: str, query: str | list[Message], chosen: str, rejected: str, **meta) -> Item:
    """A pair with the chosen response at a position seeded by the id, so that a judge that
    favours a position gains nothing on average, and a rerun sees the same order."""
    first = random.Random(id).random() < 0.5
    return Item(id=id, query=query, responses=[chosen, rejected] if first else [rejected, chosen],
                best=0 if first else 1, meta=meta)


class MissingField(ValueError):
    """A record of a benchmark file lacks a field its loader needs."""


def field(record: dict, name: str, where: str):
    if name not in record:
        raise MissingField(f"{where}: field {name!r} is missing (has: {', '.join(sorted(record)) or 'nothing'})")
    return record[name]
