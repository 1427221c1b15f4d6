"""Main-text extraction quality: the token 4-gram shingle F1 of the Zyte article-extraction benchmark,
and the must-contain / must-not-contain snippet metric of trafilatura's evaluation set.

Per page, the extracted and the gold text are split into word tokens (``\\w+``) and
cut into overlapping 4-token shingles; shingles are matched as multisets, giving true
positives, false positives and false negatives, normalised by their sum so that long
pages weigh no more than short ones. Precision and recall are averaged over pages
(a page with nothing predicted has no precision, one with no gold text no recall),
and F1 is computed from the two averages.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+")


def shingles(text: str | None, n: int = 4) -> Counter[tuple[str, ...]]:
    """Overlapping ``n``-token shingles; a text of fewer than ``n`` tokens is one short shingle."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


@dataclass(frozen=True)
class PageMatch:
    """Shares of true positives, false positives and false negatives on one page (summing to 1)."""

    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float | None:
        if self.tp + self.fp == 0:
            return None
        return 1.0 if self.fp == self.fn == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        if self.tp + self.fn == 0:
            return None
        return 1.0 if self.fp == self.fn == 0 else self.tp / (self.tp + self.fn)


def match(gold: str | None, predicted: str | None, n: int = 4) -> PageMatch:
    """Compare one page's extracted text with its gold text."""
    true, pred = shingles(gold, n), shingles(predicted, n)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    if not total:
        return PageMatch(0.0, 0.0, 0.0)
    return PageMatch(tp / total, fp / total, fn / total)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    pages: int


def score(matches: Iterable[PageMatch]) -> Scores:
    """Average precision and recall over pages, then combine them into F1."""
    matches = list(matches)
    precisions = [p for p in (m.precision for m in matches) if p is not None]
    recalls = [r for r in (m.recall for m in matches) if r is not None]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision=precision, recall=recall, f1=f1, pages=len(matches))


@dataclass(frozen=True)
class SnippetCounts:
    """One page against snippet gold: ``with`` snippets found (tp) or missed (fn), ``without`` found (fp) or not (tn).

    The metric of trafilatura's own evaluation (its ``tests/evaldata.json``): a snippet counts as
    found when it is a substring of the extracted text, exactly as written.
    """

    tp: int
    fn: int
    fp: int
    tn: int

    def __add__(self, other: SnippetCounts) -> SnippetCounts:
        return SnippetCounts(self.tp + other.tp, self.fn + other.fn, self.fp + other.fp, self.tn + other.tn)


def match_snippets(
    predicted: str | None, must_contain: Iterable[str], must_not_contain: Iterable[str]
) -> SnippetCounts:
    """Count the snippets of one page that the extracted text does and does not contain."""
    text = predicted or ""
    found = [snippet in text for snippet in must_contain]
    leaked = [snippet in text for snippet in must_not_contain]
    return SnippetCounts(tp=sum(found), fn=len(found) - sum(found), fp=sum(leaked), tn=len(leaked) - sum(leaked))


@dataclass(frozen=True)
class SnippetScores:
    precision: float
    recall: float
    f1: float
    accuracy: float
    pages: int


def snippet_score(pages: Iterable[SnippetCounts]) -> SnippetScores:
    """Precision, recall and F1 over all snippets of all pages (pooled, not averaged per page)."""
    pages = list(pages)
    total = sum(pages, SnippetCounts(0, 0, 0, 0))
    precision = total.tp / (total.tp + total.fp) if total.tp + total.fp else 0.0
    recall = total.tp / (total.tp + total.fn) if total.tp + total.fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    snippets = total.tp + total.fn + total.fp + total.tn
    accuracy = (total.tp + total.tn) / snippets if snippets else 0.0
    return SnippetScores(precision=precision, recall=recall, f1=f1, accuracy=accuracy, pages=len(pages))
