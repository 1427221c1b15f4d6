"""The embedding cache: vectors keyed by (model, text hash), in one SQLite file.

SQLite looks vectors up by key without loading the cache into memory, survives a killed run
(each batch is one transaction), and lets several processes share the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbeddingCache:
    """``get``/``put`` float32 vectors for texts embedded by one model (``model_key``)."""

    def __init__(self, path: Path, model_key: str, dim: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model_key = model_key
        self.dim = dim
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash BLOB, vector BLOB, PRIMARY KEY (model, hash))"
            " WITHOUT ROWID"
        )
        self.hits = 0
        self.misses = 0

    def get(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for ``texts`` (zeros where missing) and a boolean mask of the ones found."""
        keys = [text_hash(t) for t in texts]
        found: dict[bytes, bytes] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})", [self.model_key, *chunk]
            )
            found.update(rows.fetchall())
        vectors = np.zeros((len(texts), self.dim), np.float32)
        mask = np.zeros(len(texts), bool)
        for i, key in enumerate(keys):
            blob = found.get(key)
            if blob is not None and len(blob) == 4 * self.dim:
                vectors[i] = np.frombuffer(blob, np.float32)
                mask[i] = True
        self.hits += int(mask.sum())
        self.misses += int((~mask).sum())
        return vectors, mask

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (self.model_key, text_hash(t), np.ascontiguousarray(v, np.float32).tobytes())
            for t, v in zip(texts, vectors)
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()
