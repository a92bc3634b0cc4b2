"""Labelled items for training: the miniature world's train split, or a JSONL file of items
with `best` (n >= 2) or `rating` (n = 1). Training needs every label, so a bad record stops the
job before any compute, naming the line and the field."""

from __future__ import annotations

import random

from spct.core.items import Item
from spct.io import InputError, read_items
from spct.miniature.world import generate


def training_items(data: str, limit: int | None, seed: int) -> list[Item]:
    """`data` is "miniature" (fresh train-split items for `seed`) or the path of a JSONL file, of
    which `limit` items are drawn at random for `seed` (a file is often grouped by source, as
    `spct data build` writes it; its first lines would be one source). A larger `limit` with the
    same seed draws the smaller one's items first, so a stage can be grown without resampling."""
    if data == "miniature":
        return generate(limit, "train", seed)
    items = []
    for record in read_items(data):
        if isinstance(record, InputError):
            raise record
        if record.best is None and record.rating is None:
            raise InputError(f"{data}: item {record.id!r}: field 'best' or 'rating' is required for training")
        items.append(record)
    if limit is None or limit >= len(items):
        return items
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    return [items[i] for i in order[:limit]]


def read_split(folder: str, split: str) -> list[Item]:
    """One split of a `spct data build` folder (`<folder>/<split>.jsonl`)."""
    return training_items(f"{folder}/{split}.jsonl", None, 0)
