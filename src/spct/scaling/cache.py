"""A content-addressed on-disk cache of sampled completions (SQLite), so that reruns, resumed
jobs and overlapping evaluations (k = 8 then k = 32 reuses the first 8 draws) cost nothing.

A key is the hash of everything a draw depends on: the model (for a local folder, its files'
names, sizes and times, so a retrained checkpoint misses), the template's text, the user's
principles, the sampling parameters, the seed, the shuffling scheme, the item's content and the
draw's index. Values are raw completions; parsing happens after, so parser changes need no
invalidation.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from spct.backends.base import Completion


def model_fingerprint(model_id: str) -> str:
    """A local checkpoint is identified by its files, a hub or server name by the name itself."""
    path = Path(model_id)
    if not path.is_dir():
        return model_id
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return (
        model_id
        + ":"
        + hashlib.sha256(
            json.dumps([(str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]).encode()
        ).hexdigest()[:16]
    )


def draw_key(**parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _completion(row: str) -> Completion | None:
    try:
        return Completion(**json.loads(row))
    except (ValueError, TypeError):
        return None


class CacheError(ValueError):
    """The cache file is not a spct cache (corrupt, another program's, a folder); the message says what to do."""


class SampleCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            self._db.execute("CREATE TABLE IF NOT EXISTS draws (key TEXT PRIMARY KEY, completion TEXT NOT NULL)")
            self._db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.Error as e:
            raise CacheError(
                f"{self.path}: not a usable spct cache ({e}); delete it (or give another --cache) and "
                "rerun: it only saves time"
            ) from None
        self.hits = self.misses = 0

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, completion FROM draws WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            for k, v in rows:
                completion = _completion(v)
                if completion is not None:  # a row spct did not write is a miss: drawn again, overwritten
                    found[k] = completion
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, entries: Iterable[tuple[str, Completion]]) -> None:
        with self._db:  # one transaction: a killed job leaves whole batches or nothing
            self._db.executemany(
                "INSERT OR REPLACE INTO draws VALUES (?, ?)",
                ((k, json.dumps(asdict(c))) for k, c in entries),
            )

    def close(self) -> None:
        self._db.close()
