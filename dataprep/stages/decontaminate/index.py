"""The eval side of ``decontaminate``: eval files read once into a sorted array of n-gram hashes.

Words are normalised as datatrove's ``simplify_text`` does for its n-gram decontamination:
lower case, diacritics folded (NFD, combining marks dropped), every run of digits read as
``0``, apostrophes dropped (``don't`` is ``dont``); the words are then the runs of letters
and digits, so other punctuation separates words instead of gluing them together.

Only 64-bit hashes stay in memory (16 bytes per distinct eval n-gram, with the item that
holds it and a bit per eval set), never the eval text; with 2**-64 per comparison, a chance
collision is not expected in a lifetime of corpora.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.errors import InputError
from dataprep.stages.dedup.minhash import ngram_hashes, token_hashes, words

_DIGITS = re.compile(r"\d+")
#: Eval items are hashed this many at a time: bounds the temporaries while the index is built.
_CHUNK = 5000
#: One bit per eval set in a uint64 mask.
MAX_EVAL_SETS = 64
EVAL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".csv", ".parquet")


#: ASCII letters lower-cased, digits read as 0, everything else a space (apostrophes are deleted).
_ASCII = bytes(48 if chr(c).isdigit() else ord(chr(c).lower()) if chr(c).isalnum() else 32 for c in range(128)) + bytes(
    [32] * 128
)
_ZEROS = re.compile(rb"0{2,}")


def ngram_words(text: str) -> list[str]:
    """The normalised words of ``text`` (see the module docstring): ``"Don't café 1999!"`` -> dont cafe 0."""
    if text.isascii():
        # One bytes.translate does most records, several times faster than the regexes below.
        data = text.encode("ascii").translate(_ASCII, b"'")
        if b"00" in data:
            data = _ZEROS.sub(b"0", data)
        return data.decode("ascii").split()
    # In datatrove's order: punctuation goes before digit runs are folded ("1'000" is one number).
    text = text.replace("'", "").replace("\u2019", "")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return words(_DIGITS.sub("0", text))


#: Marks where one text ends in a batch's joined bytes: kept by the table, unlike every other control byte.
_MARK = 1
_BATCH = bytearray(_ASCII[:128] + bytes(range(128, 256)))
_BATCH[_MARK] = _MARK
_BATCH = bytes(_BATCH)


def batch_words(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ngram_words` of every text at once: the words flat (an object array) and the count per text.

    The texts are joined with a marker word and normalised by one ``bytes.translate`` and one
    ``split`` for the whole batch; a text with non-ASCII characters (or the marker byte) is
    normalised on its own first, so its words pass through the translation unchanged.
    """
    marker = chr(_MARK)
    parts = [
        t.encode("ascii") if t.isascii() and marker not in t else " ".join(ngram_words(t)).encode("utf-8")
        for t in texts
    ]
    data = (b" %c " % _MARK).join(parts).translate(_BATCH, b"'")
    if b"00" in data:
        data = _ZEROS.sub(b"0", data)
    tokens = np.array((data.decode("utf-8") + " " + marker).split(), dtype=object)
    ends = np.flatnonzero(tokens == marker)
    lengths = np.diff(ends, prepend=-1) - 1
    return np.delete(tokens, ends), lengths


def window_hashes(tokens: Sequence[Sequence[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every ``n``-word window of each token list and the list each belongs to."""
    return ngram_hashes(*token_hashes(tokens), n, short=False)


@dataclass
class EvalSet:
    """One eval file (or one split of a ``datasets`` folder) and what was indexed from it."""

    name: str
    item_names: list[str] = field(default_factory=list)
    ngrams: int = 0
    too_short: int = 0

    def summary(self) -> dict[str, int]:
        return {"items": len(self.item_names), "ngrams": self.ngrams, "items_too_short": self.too_short}


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a value: a column, a list of choices, chat messages' contents."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, (list, tuple, np.ndarray)):
        for inner in value:
            yield from _strings(inner)


def item_text(row: dict[str, Any], fields: Sequence[str], id_field: str) -> str:
    """The text of one eval item: the chosen fields, or every string in it except its id."""
    names = fields or [name for name in row if name != id_field]
    return "\n".join(s for name in names for s in _strings(row.get(name)))


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"{path} line {number}: not valid JSON ({exc.msg} at column {exc.colno}); "
                        "fix or delete that line of the eval file."
                    ) from None
                if not isinstance(row, dict):
                    raise InputError(
                        f"{path} line {number}: expected a JSON object per line, got {type(row).__name__}."
                    )
                yield f"line {number}", row
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text ({exc.reason}); re-encode it as UTF-8.") from None


def _json_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc}); give a list of objects, or JSON Lines.") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of objects (or a .jsonl file with one object per line).")
    for number, row in enumerate(data):
        yield f"item {number}", row if isinstance(row, dict) else {"text": row}


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pandas as pd

    try:
        chunks = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=_CHUNK)
        number = 1
        for chunk in chunks:
            for row in chunk.to_dict("records"):
                number += 1
                yield f"line {number}", row
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc}).") from None


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise InputError(f"{path}: not a readable Parquet file ({exc}).") from None
    number = 0
    for batch in handle.iter_batches(batch_size=_CHUNK):
        for row in batch.to_pylist():
            yield f"row {number}", row
            number += 1


def _dataset_rows(dataset: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, row in enumerate(dataset):
        yield f"row {number}", row


def is_datasets_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in ("dataset_info.json", "dataset_dict.json"))


def eval_sources(spec: str) -> list[tuple[str, Iterator[tuple[str, dict[str, Any]]]]]:
    """The eval sets one ``--against`` value names, each as (name, rows of (locator, row))."""
    path = Path(spec)
    if is_datasets_folder(path):
        from datasets import DatasetDict, load_from_disk

        loaded = load_from_disk(str(path))
        if isinstance(loaded, DatasetDict):
            return [(f"{spec}[{split}]", _dataset_rows(loaded[split])) for split in sorted(loaded)]
        return [(spec, _dataset_rows(loaded))]
    if not path.exists():
        raise InputError(f"--against {spec}: no such file or folder.")
    if path.is_dir():
        raise InputError(
            f"--against {spec}: a folder, but not one saved with datasets' save_to_disk "
            f"(no dataset_info.json); point at an eval file ({', '.join(EVAL_SUFFIXES)})."
        )
    name = path.name.lower()
    readers = {".jsonl": _jsonl_rows, ".jsonl.gz": _jsonl_rows, ".json": _json_rows}
    readers.update({".csv": _csv_rows, ".parquet": _parquet_rows})
    for suffix, reader in readers.items():
        if name.endswith(suffix):
            return [(spec, reader(path))]
    raise InputError(
        f"--against {spec}: unknown eval format; give JSONL, JSON, CSV or Parquet "
        "(or a folder saved with datasets' save_to_disk)."
    )


class EvalIndex:
    """Every ``ngram``-word window of every eval item, as sorted unique 64-bit hashes.

    An item of ``min_words`` to ``ngram - 1`` words is indexed whole, as one window of its own
    length, so a short benchmark question still counts when a record quotes all of it.
    For each hash the index keeps the first eval set and item that hold it (for the reject's
    detail) and a bit mask of every eval set that does (for the counts per set).
    """

    def __init__(self, specs: Sequence[str], *, ngram: int, min_words: int, fields: Sequence[str], id_field: str):
        self.ngram = ngram
        self.min_words = min_words
        self.sets: list[EvalSet] = []
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        lengths: set[int] = set()
        for spec in specs:
            for name, rows in eval_sources(spec):
                if len(self.sets) == MAX_EVAL_SETS:
                    raise InputError(f"--against: more than {MAX_EVAL_SETS} eval sets; merge some into one file.")
                eval_set = EvalSet(name)
                self.sets.append(eval_set)
                for hashes, items, found in self._hash_set(eval_set, rows, fields, id_field):
                    parts.append((hashes, np.full(len(hashes), len(self.sets) - 1, dtype=np.int32), items))
                    lengths |= found
        self.lengths = sorted(lengths)
        if not parts:
            self.keys = np.empty(0, dtype=np.uint64)
            self.first_set = self.first_item = np.empty(0, dtype=np.int32)
            self.masks = np.empty(0, dtype=np.uint64)
            self._build_filter()
            return
        hashes = np.concatenate([p[0] for p in parts])
        set_ids = np.concatenate([p[1] for p in parts])
        items = np.concatenate([p[2] for p in parts])
        order = np.lexsort((items, set_ids, hashes))
        hashes, set_ids, items = hashes[order], set_ids[order], items[order]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        # Distinct n-grams per set: a new (hash, set) pair starts where either changes.
        pair = first.copy()
        pair[1:] |= set_ids[1:] != set_ids[:-1]
        for set_id, count in enumerate(np.bincount(set_ids[pair], minlength=len(self.sets)).tolist()):
            self.sets[set_id].ngrams = count
        starts = np.flatnonzero(first)
        self.keys = hashes[starts]
        self.first_set = set_ids[starts]
        self.first_item = items[starts]
        self.masks = np.bitwise_or.reduceat(np.left_shift(np.uint64(1), set_ids.astype(np.uint64)), starts)
        self._build_filter()

    def _build_filter(self) -> None:
        """A bitmap over the top bits of every key: most corpus n-grams miss it, and only the
        few that hit are looked up in the sorted keys (a binary search costs far more)."""
        self._bits = int(min(max(np.ceil(np.log2(max(len(self.keys), 1) * 16)), 16), 28))
        self._filter = np.zeros(1 << self._bits, dtype=bool)
        self._filter[(self.keys >> np.uint64(64 - self._bits)).astype(np.intp)] = True

    def _hash_set(
        self, eval_set: EvalSet, rows: Iterator[tuple[str, dict[str, Any]]], fields: Sequence[str], id_field: str
    ) -> Iterator[tuple[np.ndarray, np.ndarray, set[int]]]:
        chunk: list[list[str]] = []
        for locator, row in rows:
            ident = row.get(id_field)
            eval_set.item_names.append(f"{id_field}={ident}" if ident not in (None, "") else locator)
            chunk.append(ngram_words(item_text(row, fields, id_field)))
            if len(chunk) == _CHUNK:
                yield self._hash_chunk(eval_set, chunk, len(eval_set.item_names) - len(chunk))
                chunk = []
        if chunk:
            yield self._hash_chunk(eval_set, chunk, len(eval_set.item_names) - len(chunk))

    def _hash_chunk(
        self, eval_set: EvalSet, tokens: list[list[str]], first_item: int
    ) -> tuple[np.ndarray, np.ndarray, set[int]]:
        sizes = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
        hashes, owners = [], []
        found: set[int] = set()
        full = np.flatnonzero(sizes >= self.ngram)
        if len(full):
            h, o = window_hashes([tokens[i] for i in full], self.ngram)
            hashes.append(h)
            owners.append(full[o])
            found.add(self.ngram)
        for size in sorted(set(sizes[(sizes >= self.min_words) & (sizes < self.ngram)].tolist())):
            same = np.flatnonzero(sizes == size)
            h, o = window_hashes([tokens[i] for i in same], size)
            hashes.append(h)
            owners.append(same[o])
            found.add(size)
        eval_set.too_short += int((sizes < min(self.min_words, self.ngram)).sum())
        if not hashes:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32), found
        flat = np.concatenate(hashes)
        items = (np.concatenate(owners) + first_item).astype(np.int32)
        # Within one set an n-gram counts once: the index holds its first item.
        unique, at = np.unique(flat, return_index=True)
        return unique, items[at], found

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Index into :attr:`keys` of each hash, or -1 where it is not an eval n-gram."""
        if not len(self.keys) or not len(hashes):
            return np.full(len(hashes), -1, dtype=np.int64)
        found = np.full(len(hashes), -1, dtype=np.int64)
        maybe = np.flatnonzero(self._filter[(hashes >> np.uint64(64 - self._bits)).astype(np.intp)])
        if len(maybe):
            at = np.minimum(np.searchsorted(self.keys, hashes[maybe]), len(self.keys) - 1)
            found[maybe] = np.where(self.keys[at] == hashes[maybe], at, -1)
        return found

    def describe(self, key: int) -> tuple[str, str]:
        """(eval set name, item name) of the first item that holds index entry ``key``."""
        eval_set = self.sets[int(self.first_set[key])]
        return eval_set.name, eval_set.item_names[int(self.first_item[key])]

    def set_names(self, mask: int) -> list[str]:
        return [s.name for bit, s in enumerate(self.sets) if mask >> bit & 1]
