"""``filter-quality``: drop records by length, symbol share and repetition (Gopher-style).

Every check is optional and has its own reject reason, so ``stats.json`` shows
what each one removed. The heuristics follow Gopher (Rae et al., 2021, appendix
A): the share of lines that repeat an earlier line, and the share of characters
inside word n-grams that occur more than once. They judge the response side
(``output``, assistant turns, ``text``) unless ``check_prompts`` is set.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.content import RESPONSE_ROLES, get, record_problem, slots


class FilterQualityConfig(StageConfig):
    """Options of ``filter-quality``. Leave an option unset to skip its check."""

    min_chars: int | None = Field(None, ge=0, description="Drop records shorter than this many characters.")
    max_chars: int | None = Field(None, ge=1, description="Drop records longer than this many characters.")
    min_words: int | None = Field(None, ge=0, description="Drop records with fewer words than this.")
    max_words: int | None = Field(None, ge=1, description="Drop records with more words than this.")
    max_non_alpha: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Drop records where more than this share of the non-space characters are not letters "
        "(digits, symbols, punctuation); 0.5 catches symbol soup and keeps prose and most code.",
    )
    max_repeated_lines: float | None = Field(
        0.3,
        ge=0,
        le=1,
        description="Drop records where more than this share of the non-blank lines repeat an earlier line "
        "(Gopher: 0.3).",
    )
    max_repeated_ngrams: float | None = Field(
        0.15,
        ge=0,
        le=1,
        description="Drop records where more than this share of the characters lie in word n-grams that "
        "occur more than once (Gopher: 0.15 for 5-grams).",
    )
    ngram_size: int = Field(5, ge=1, description="Word n-gram size for max_repeated_ngrams.")
    reject_empty_output: bool = Field(
        True,
        description="Drop supervised records (input/output or chat) whose response is empty or missing.",
    )
    check_prompts: bool = Field(
        False,
        description="Also hold the prompt side (input, user and system turns) to the same limits, measured on "
        "its own; by default only the response side is measured.",
    )

    @model_validator(mode="after")
    def _ranges(self) -> FilterQualityConfig:
        for low, high in (("min_chars", "max_chars"), ("min_words", "max_words")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} ({a}) is larger than {high} ({b}); nothing could pass")
        return self


def repeated_line_share(text: str) -> float:
    """Share of non-blank lines that repeat an earlier line."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return 0.0
    return (len(lines) - len(set(lines))) / len(lines)


def repeated_ngram_share(words: list[str], n: int) -> float:
    """Share of word characters that lie inside an n-gram seen earlier in the text (Gopher)."""
    if len(words) < n:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeated = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        if gram in seen:
            for j in range(i, i + n):
                repeated[j] = True
        else:
            seen.add(gram)
    total = sum(len(w) for w in words)
    return sum(len(w) for w, r in zip(words, repeated) if r) / total if total else 0.0


def non_alpha_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if not c.isalpha()) / len(chars)


@register
class FilterQuality(RecordStage):
    """Drop records by length, non-alphabetic share and repetition, with a reason per check."""

    name = "filter-quality"
    Config = FilterQualityConfig
    config: FilterQualityConfig

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        for i in range(n):
            reasons[i], details[i] = self.judge(batch, i)
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch

    def judge(self, batch: Batch, i: int) -> tuple[str | None, str | None]:
        """The first check record ``i`` fails, as (reason, detail), or (None, None)."""
        cfg = self.config
        problem = record_problem(batch, i)
        if problem == "empty-output" and not cfg.reject_empty_output:
            problem = None
        if problem:
            return problem, "the record has no usable content"
        if cfg.reject_empty_output and _chat_without_answer(batch["messages"][i]):
            return "empty-output", "no assistant turn has any content"
        sides = [("response", slots(batch, i))]
        if cfg.check_prompts:
            sides.append(("prompt", slots(batch, i, responses=False, prompts=True)))
        for side, chosen in sides:
            if chosen:
                reason, detail = self._measure("\n".join(get(batch, i, slot) for slot in chosen))
                if reason:
                    return reason, f"{side}: {detail}"
        return None, None

    def _measure(self, text: str) -> tuple[str | None, str | None]:
        cfg = self.config
        words = text.split()
        for reason, value, limit, too_low in (
            ("too-few-chars", len(text), cfg.min_chars, True),
            ("too-many-chars", len(text), cfg.max_chars, False),
            ("too-few-words", len(words), cfg.min_words, True),
            ("too-many-words", len(words), cfg.max_words, False),
        ):
            if limit is not None and (value < limit if too_low else value > limit):
                unit = reason.rsplit("-", 1)[1]
                return reason, f"{value} {unit}; the {'minimum' if too_low else 'maximum'} is {limit}"
        for reason, limit, measure in (
            ("non-alpha", cfg.max_non_alpha, lambda: non_alpha_share(text)),
            ("repeated-lines", cfg.max_repeated_lines, lambda: repeated_line_share(text)),
            ("repeated-ngrams", cfg.max_repeated_ngrams, lambda: repeated_ngram_share(words, cfg.ngram_size)),
        ):
            if limit is not None:
                share = measure()
                if share > limit:
                    return reason, f"share {share:.2f}; the maximum is {limit}"
        return None, None


def _chat_without_answer(messages: list[dict[str, Any]] | None) -> bool:
    if not messages:
        return False
    return not any(m.get("role") in RESPONSE_ROLES and (m.get("content") or "").strip() for m in messages)
