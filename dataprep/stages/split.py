"""``split``: train / validation (/ test) splits that stay put when data is added.

With the default ``method: hash`` a record's split is a pure function of its id (or of
its group, with ``group_by``): a 64-bit hash of the key, read as a number in [0, 1),
lands in the validation share, the test share or the rest. Adding records never moves
an existing one. Exact quotas (``--val-size``, ``--stratify``, ``--method random``)
instead rank the groups (by the same hash, or by a seeded one for ``random``) and fill
each split's quota in rank order; there, records at the edge of a quota can move when
data is added.

The output folder holds the files trainers expect, ``train.jsonl`` and ``val.jsonl``
(and ``test.jsonl``), plus Parquet shards per split (``train/``, ``val/``, ``test/``)
for the next stage. Use :func:`split_files` to read such a folder by its splits.

Leakage: a validation record with a near-copy in train makes the validation curve lie. So
``split`` looks for near-duplicates (MinHash LSH with the ``dedup`` stage's code and defaults)
that land on different sides and, by default, moves each such cluster to the side that holds
most of it (ties: the side of its lowest-ranked group); ``leakage: report`` only counts them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from dataprep.errors import InputError
from dataprep.io.readers import RECORD_SUFFIXES, resolve_inputs
from dataprep.io.writers import JsonlWriter, ParquetShardWriter
from dataprep.records import Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.base import StageOutput, StageStats
from dataprep.stages.content import record_problem
from dataprep.stages.dedup.dedup import DedupConfig, content_text
from dataprep.stages.dedup.minhash import duplicate_groups, exact_keys, lsh_params, near_keys, tokenize

SPLITS = ("train", "val", "test")
_SCALE = float(1 << 64)
#: Examples of leaked clusters kept in stats.json.
_LEAK_EXAMPLES = 5


def _dedup_default(name: str) -> Any:
    return DedupConfig.model_fields[name].default


@functools.lru_cache(maxsize=16)
def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """:func:`lsh_params`, worked out once per threshold (an optimisation by numerical integration
    that costs about as much as MinHashing a batch)."""
    return lsh_params(threshold, num_perm)


class SplitConfig(StageConfig):
    """Options of ``split``."""

    ratio: list[float] = Field(
        default_factory=lambda: [0.99, 0.01],
        description="Shares of train,val or train,val,test, e.g. 0.99,0.01 or 0.98,0.01,0.01 (scaled to sum to 1).",
    )
    val_size: int | None = Field(
        None, description="Exact number of validation records; replaces the validation share of --ratio."
    )
    method: Literal["hash", "random"] = Field(
        "hash",
        description="hash: a record's split follows from its id (or group), so adding data never moves it; "
        "random: a seeded shuffle (--seed) with exact counts.",
    )
    group_by: str | None = Field(
        None,
        description="Field whose records stay on one side, e.g. meta.dup_group (near-duplicates never straddle "
        "train and validation). Records without it are their own group.",
    )
    stratify: str | None = Field(
        None, description="Field whose mix validation keeps, e.g. meta.cluster: every value gets its share."
    )
    leakage: Literal["move", "report", "off"] = Field(
        "move",
        description="Near-duplicates that land on different sides: move each cluster to one side (counted as "
        "leak-moved in stats), only report them, or skip the check.",
    )
    leakage_threshold: float = Field(
        _dedup_default("threshold"),
        gt=0,
        le=1,
        description="Near-duplicate for the leakage check when the estimated Jaccard similarity is at least this "
        "(the dedup stage's default).",
    )
    leakage_ngram: int = Field(
        _dedup_default("ngram"), ge=1, description="Word n-gram size of the leakage check (the dedup stage's default)."
    )

    @field_validator("ratio", mode="before")
    @classmethod
    def _parse_ratio(cls, value: Any) -> Any:
        items = value if isinstance(value, (list, tuple)) else [value]
        numbers: list[float] = []
        for item in items:
            parts = str(item).split(",") if isinstance(item, str) else [item]
            for part in parts:
                try:
                    numbers.append(float(part))
                except (TypeError, ValueError):
                    raise ValueError(
                        f"ratio must be numbers separated by commas, e.g. 0.99,0.01 or 0.98,0.01,0.01; got {part!r}"
                    ) from None
        return numbers

    @field_validator("ratio")
    @classmethod
    def _check_ratio(cls, value: list[float]) -> list[float]:
        if len(value) not in (2, 3):
            raise ValueError(f"ratio needs 2 values (train,val) or 3 (train,val,test); got {len(value)}")
        if any(v != v or v in (float("inf"), float("-inf")) for v in value):
            raise ValueError("ratio values must be finite numbers")
        if any(v < 0 for v in value):
            raise ValueError("ratio values must not be negative")
        if sum(value) <= 0:
            raise ValueError("ratio must not sum to zero")
        if value[0] <= 0:
            raise ValueError("the train share of ratio must be positive")
        return value

    @field_validator("val_size")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("val_size must be at least 1")
        return value

    @field_validator("group_by", "stratify")
    @classmethod
    def _field_path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(not part for part in value.split("."))):
            raise ValueError(f"{value!r} is not a field; write a column or meta key such as meta.dup_group")
        return value

    @model_validator(mode="after")
    def _val_share(self) -> SplitConfig:
        if self.val_size is None and self.ratio[1] <= 0:
            raise ValueError("the validation share of ratio must be positive (or give val_size)")
        return self

    def shares(self) -> dict[str, float]:
        total = sum(self.ratio)
        shares = {name: value / total for name, value in zip(SPLITS, self.ratio)}
        return {name: share for name, share in shares.items() if share > 0 or name == "val"}


def field_value(batch: Batch, path: str, i: int) -> Any:
    """The value of ``path`` (``column`` or ``meta.key.sub``) for row ``i``, None when absent."""
    head, *rest = path.split(".")
    column = batch.get(head)
    value = column[i] if column is not None else None
    for key in rest:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def unit_hash(key: str, salt: str = "") -> float:
    """A number in [0, 1) that depends only on ``key`` (and ``salt``)."""
    digest = hashlib.blake2b(f"{salt}\0{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass
class _Group:
    rank: float
    size: int = 0
    strata: Counter = field(default_factory=Counter)
    split: str = "train"

    @property
    def stratum(self) -> str:
        # The most common value; ties go to the smallest, so the choice does not depend on input order.
        return min(self.strata.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _label(value: Any) -> str:
    """A stratum's name in stats.json: the value itself when it is a string."""
    return value if isinstance(value, str) else "(none)" if value is None else _key(value)


def largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` across keys in proportion to ``weights``; the parts are integers summing to ``total``."""
    whole = sum(weights.values())
    if not whole:
        return dict.fromkeys(weights, 0)
    exact = {k: total * w / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in exact.items()}
    left = total - sum(parts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - parts[k]), k))[:left]:
        parts[k] += 1
    return parts


def split_files(path: Path) -> dict[str, list[Path]] | None:
    """The record files of each split in a ``split`` output folder, or None if ``path`` is not one.

    A split folder holds both ``train.jsonl`` and ``train/*.parquet``; reading it as a plain
    folder would read every record twice, so readers take the Parquet shards of each split.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    found: dict[str, list[Path]] = {}
    for name in SPLITS:
        shards = sorted((path / name).glob("*.parquet")) if (path / name).is_dir() else []
        if shards:
            found[name] = shards
        elif (path / f"{name}.jsonl").is_file():
            found[name] = [path / f"{name}.jsonl"]
    return found if "train" in found else None


@register
class Split(RecordStage):
    """Split records into train/val(/test) by a stable hash of their id, group or a seeded shuffle."""

    name = "split"
    Config = SplitConfig
    folder_output = True
    config: SplitConfig

    @property
    def fork_unsafe_work(self) -> bool:  # type: ignore[override]
        """The leakage check's MinHash starts rensa's threads, which a fork does not copy: with
        workers, the pool then starts before the first batch (100k records on 2 workers: 3.4 s
        with a fork server, 2.7 s forked up front, 3.2 s in one process)."""
        return self.config.leakage != "off"

    def __init__(self, config: SplitConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.groups: dict[str, _Group] = {}
        self.forced: Counter = Counter()
        self.strata: dict[str, Counter] = {}
        #: Group keys linked by near-duplicates, for each key in such a cluster (the cluster moves as one).
        self.linked: dict[str, list[str]] = {}
        self.leaks: dict[str, Any] = {}

    def _group_key(self, batch: Batch, i: int) -> str:
        if self.config.group_by:
            value = field_value(batch, self.config.group_by, i)
            if value is not None:
                return f"{self.config.group_by}={_key(value)}"
        return f"id={batch['id'][i]}"

    def _group_keys(self, batch: Batch) -> list[str]:
        """:meth:`_group_key` of every row."""
        if not self.config.group_by:
            return [f"id={record_id}" for record_id in batch["id"]]
        return [self._group_key(batch, i) for i in range(batch_len(batch))]

    def _rank(self, key: str) -> float:
        salt = f"seed={self.ctx.seed}" if self.config.method == "random" else ""
        return unit_hash(key, salt)

    def prepare(self, batch: Batch) -> Batch:
        """Per batch (a pure function, so it can run on workers): each record's group key and stratum."""
        stratify = self.config.stratify
        n = batch_len(batch)
        out: Batch = {
            "key": self._group_keys(batch),
            "stratum": [_label(field_value(batch, stratify, i)) for i in range(n)] if stratify else [""] * n,
        }
        if self.config.leakage != "off":
            # The dedup stage's comparison: prompt and response, exact keys and MinHash LSH bands.
            ok = [record_problem(batch, i) is None for i in range(n)]
            texts = [content_text(batch, i) if good else "" for i, good in enumerate(ok)]
            cfg = self.config
            bands, rows = _lsh_params(cfg.leakage_threshold, _dedup_default("num_perm"))
            tokens = tokenize(texts)
            exact = exact_keys(texts, tokens)
            options = {"num_perm": _dedup_default("num_perm"), "ngram": cfg.leakage_ngram, "seed": self.ctx.seed}
            keys = near_keys(texts, tokens, exact, **options, bands=bands, rows=rows)
            out.update(exact=exact, eligible=np.array(ok, dtype=bool), bands=keys)
        return out

    def fit_prepared(self, prepared: Iterator[Batch], inputs: list[Path | str]) -> None:
        """Count every group (and its strata) once; assign each group a split."""
        stratify = self.config.stratify
        keys: list[str] = []
        exact_parts, eligible, bands = [], [], []
        for part in prepared:
            if self.config.leakage != "off":
                keys.extend(part["key"])
                exact_parts.append(np.asarray(part["exact"], dtype=np.uint64))
                eligible.append(np.asarray(part["eligible"], dtype=bool))
                bands.append(np.asarray(part["bands"], dtype=np.uint64))
            for key, stratum in zip(part["key"], part["stratum"]):
                group = self.groups.get(key)
                if group is None:
                    group = self.groups[key] = _Group(self._rank(key))
                group.size += 1
                group.strata[stratum] += 1
        shares = self.config.shares()
        wanted = [name for name in SPLITS if name in shares]
        if len(self.groups) < len(wanted):
            what = "records" if not self.config.group_by else f"groups of {self.config.group_by}"
            raise InputError(
                f"{', '.join(map(str, inputs))}: {len(self.groups)} {what}, too few for a "
                f"{'/'.join(wanted)} split; give at least {len(wanted)}."
            )
        exact = self.config.method == "random" or self.config.val_size is not None or stratify is not None
        if exact:
            self._assign_quotas(shares)
        else:
            self._assign_by_threshold(shares)
        if keys:
            labels = duplicate_groups(np.concatenate(exact_parts), np.concatenate(eligible), np.concatenate(bands))
            self._fix_leaks(keys, labels)
        self._guarantee(wanted)

    def _fix_leaks(self, keys: list[str], labels: np.ndarray) -> None:
        """Near-duplicate clusters (over groups) that straddle sides: count them and, unless
        ``leakage: report``, move every group of each to the side holding most of its records."""
        clusters: dict[int, set[str]] = {}
        for key, label in zip(keys, labels.tolist()):
            if label >= 0:
                clusters.setdefault(label, set()).add(key)
        # Two clusters that share a group are one: a group never splits, so neither may they.
        parent: dict[str, str] = {}

        def root(key: str) -> str:
            while parent.get(key, key) != key:
                key = parent[key]
            return key

        for members in clusters.values():
            first, *rest = sorted(members)
            for key in rest:
                a, b = root(first), root(key)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        merged: dict[str, list[str]] = {}
        for members in clusters.values():
            for key in members:
                merged.setdefault(root(key), []).append(key)
        moved = straddling = records = 0
        examples = []
        for top in sorted(merged):
            members = sorted(set(merged[top]), key=lambda k: (self.groups[k].rank, k))
            sizes = Counter()
            for key in members:
                sizes[self.groups[key].split] += self.groups[key].size
            if self.config.leakage == "move":
                for key in members:
                    self.linked[key] = members
            if len(sizes) < 2:
                continue
            straddling += 1
            records += sum(sizes.values())
            lowest = self.groups[members[0]].split
            side = max(sizes, key=lambda name: (sizes[name], name == lowest))
            if len(examples) < _LEAK_EXAMPLES:
                target = "moved_to" if self.config.leakage == "move" else "would_move_to"
                examples.append({"groups": members[:10], "records": dict(sorted(sizes.items())), target: side})
            if self.config.leakage == "move":
                for key in members:
                    group = self.groups[key]
                    if group.split != side:
                        moved += group.size
                        group.split = side
        self.leaks = {
            "clusters_across_sides": straddling,
            "records_in_them": records,
            "leak-moved": moved,
            "examples": examples,
        }

    def _assign_by_threshold(self, shares: dict[str, float]) -> None:
        val, test = shares.get("val", 0.0), shares.get("test", 0.0)
        for group in self.groups.values():
            group.split = "val" if group.rank < val else "test" if group.rank < val + test else "train"

    def _assign_quotas(self, shares: dict[str, float]) -> None:
        records = sum(g.size for g in self.groups.values())
        by_stratum: dict[str, list[_Group]] = {}
        for key in sorted(self.groups, key=lambda k: (self.groups[k].rank, k)):
            group = self.groups[key]
            by_stratum.setdefault(group.stratum, []).append(group)
        sizes = {s: sum(g.size for g in groups) for s, groups in by_stratum.items()}
        if self.config.val_size is None:
            val_total = min(round(records * shares["val"]), records - 1)
        elif self.config.val_size >= records:
            raise InputError(
                f"val_size {self.config.val_size} leaves no training records: there are only {records}; "
                "give a smaller one."
            )
        else:
            val_total = self.config.val_size
        quotas = {"val": largest_remainder(val_total, sizes)}
        if "test" in shares:
            quotas["test"] = largest_remainder(round(records * shares["test"]), sizes)
        for stratum, groups in by_stratum.items():
            filled = Counter()
            for group in groups:
                group.split = next(
                    (name for name in quotas if filled[name] < quotas[name][stratum]),
                    "train",
                )
                filled[group.split] += group.size

    def _guarantee(self, wanted: list[str]) -> None:
        """Every split asked for gets at least one group, taken from the largest split."""
        ordered = sorted(self.groups.items(), key=lambda kv: (kv[1].rank, kv[0]))
        for name in wanted:
            counts = Counter(g.split for g in self.groups.values())
            if counts[name]:
                continue
            donor = max((s for s in wanted if s != name), key=lambda s: (counts[s], s == "train"))
            # The donor's group nearest to this split's share moves, so the fewest records shift later.
            candidates = [g for _, g in ordered if g.split == donor]
            group = candidates[0] if name != "train" else candidates[-1]
            key = next(k for k, g in ordered if g is group)
            # A near-duplicate cluster moves whole, so the guarantee does not reopen a leak.
            for member in self.linked.get(key, [key]):
                self.groups[member].split = name
                self.forced[name] += self.groups[member].size

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        resolve_inputs(inputs, RECORD_SUFFIXES)
        for spec in inputs:
            if split_files(Path(spec)) is not None:
                raise InputError(
                    f"{spec}: already a split folder (train and val); "
                    f"split one of its parts instead, e.g. {Path(spec) / 'train'}."
                )
        self.fit(inputs)
        names = [name for name in SPLITS if name in self.config.shares()]
        jsonl = {name: JsonlWriter(output.folder / f"{name}.jsonl") for name in names}
        shards = {name: ParquetShardWriter(output.folder / name) for name in names}
        counts: Counter = Counter()
        try:
            with self.progress(sum(g.size for g in self.groups.values())) as bar:
                for read in self.read_batches(inputs):
                    output.reject_all(read.rejects, stats)
                    batch = read.batch
                    size = batch_len(batch)
                    if not size:
                        continue
                    stats.records_in += size
                    bar.update(size)
                    rows: dict[str, list[int]] = {name: [] for name in names}
                    groups = self.groups
                    sides = [groups[key].split for key in self._group_keys(batch)]
                    for i, split in enumerate(sides):
                        rows[split].append(i)
                    if self.config.stratify:
                        for i, split in enumerate(sides):
                            stratum = _label(field_value(batch, self.config.stratify, i))
                            self.strata.setdefault(stratum, Counter())[split] += 1
                    for name, picked in rows.items():
                        if picked:
                            part = {column: [values[i] for i in picked] for column, values in batch.items()}
                            jsonl[name].write(part)
                            shards[name].write(part)
                            counts[name] += len(picked)
        finally:
            for writer in (*jsonl.values(), *shards.values()):
                writer.close()
        stats.records_out = sum(counts.values())
        stats.extra.update(self._summary(names, counts))

    def _summary(self, names: list[str], counts: Counter) -> dict[str, Any]:
        cfg = self.config
        groups = Counter(g.split for g in self.groups.values())
        summary: dict[str, Any] = {
            "method": cfg.method,
            "ratio": {name: round(share, 6) for name, share in cfg.shares().items()},
            "val_size": cfg.val_size,
            "group_by": cfg.group_by,
            "stratify": cfg.stratify,
            "splits": {name: {"records": counts[name], "groups": groups[name]} for name in names},
            "forced_to_meet_minimum": dict(self.forced),
        }
        if cfg.method == "random":
            summary["seed"] = self.ctx.seed
        if cfg.leakage != "off":
            summary["leak-moved"] = self.leaks.get("leak-moved", 0)
            summary["leakage"] = {
                "mode": cfg.leakage,
                "threshold": cfg.leakage_threshold,
                "ngram": cfg.leakage_ngram,
                **(self.leaks or {"clusters_across_sides": 0, "records_in_them": 0, "leak-moved": 0, "examples": []}),
            }
        if cfg.stratify:
            summary["strata"] = {
                stratum: {name: split_counts[name] for name in names}
                for stratum, split_counts in sorted(self.strata.items())
            }
        return summary
