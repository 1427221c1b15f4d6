"""``filter-slop``: drop refusals, strip AI disclaimers, flag stylistic slop.

Phrases come from lists (the built-in ones in ``phrases/``, and your own) and
regexes, each with a category; each category has an action:

- ``drop``: the record goes to the rejects file with the phrase and category that decided;
- ``strip``: the sentence (or line) that holds the phrase is removed and the rest kept,
  unless fewer than ``min_words_left`` words are left, then the record is dropped;
- ``flag``: matches and their density per 1,000 words go into ``meta["slop"]``.

Every string is folded once (lower case, curly quotes made straight, runs of
whitespace made one space) and scanned in one pass by an Aho-Corasick automaton
(pyahocorasick) holding every phrase, so the cost does not grow with the number
of phrases. Matches must sit on word boundaries: "bias" does not match "biased".

Lists miss wordings nobody wrote down, so the same pass also finds cheap cues
(``phrases/cues.txt``: "assistant", "sorry", "I cannot", "respectful"...). A
sentence that holds a cue and no listed phrase goes to the phrase families
(``slop_families.py``: regexes with slots, "as a <any adjectives> assistant"),
and if none matches, to a small sentence scorer (``slop_scorer.py``: a linear
model over hashed n-grams, trained on sentences written for this project). Only
cue sentences are ever scored, so clean text costs no more than before. Each
drop and strip records its deciding sentence, category, source (rule, family or
scorer) and score in ``meta["slop"]``, and stats count decisions by source.
"""

from __future__ import annotations

import functools
import itertools
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import ahocorasick
from pydantic import Field, field_validator, model_validator

from dataprep.errors import ConfigError, suggest
from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.content import Slot, get, put, record_problem, slots
from dataprep.stages.filters.slop_families import FAMILIES, Family, family_hits

PHRASE_DIR = Path(__file__).with_name("phrases")
BUILTIN_CATEGORIES = ("refusal", "ai-disclaimer", "gptism")
DEFAULT_ACTIONS = {"refusal": "drop", "ai-disclaimer": "strip", "gptism": "flag"}
#: How many phrases ``stats.json`` lists by hit count.
TOP_PHRASES = 50
Action = Literal["drop", "strip", "flag"]
_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: The category of exception phrases (list lines starting with "!").
EXCEPTION = "!"
#: The category of cue phrases: they decide nothing, they pick the sentences to look at.
CUE = "?"
#: Categories the families and the scorer decide for (each only when its built-in list is on).
LEARNED_CATEGORIES = ("refusal", "ai-disclaimer")


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u2032\u02bc`\u00b4"}
    table.update({ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"})
    table.update({ord(c): "-" for c in "\u2010\u2011"})
    table.update({c: " " for c in range(0x3001) if chr(c).isspace()})
    # "İ".lower() is two characters; every other character lowers to one, so folding
    # stays one-to-one and match positions map straight back to the original text.
    table[0x130] = "i"
    return table


_FOLD = _fold_table()
# The same folding for ASCII text as a byte table: bytes.translate is a plain table
# lookup, many times faster than str.translate, which costs more than the match itself.
_ASCII_FOLD = bytes(ord(_FOLD.get(b, chr(b)).lower()) if b < 128 else b for b in range(256))
_RUNS = re.compile(r" {2,}")
_BRACES = re.compile(r"\{([^{}]*)\}")


def _lower(text: str) -> str:
    """Lower case, straight quotes, every whitespace character a space; one character for one."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_FOLD).decode("ascii")
    return text.translate(_FOLD).lower()


def fold(text: str) -> str:
    """Lower case, straight quotes, one space for any run of whitespace."""
    low = _lower(text)
    return _RUNS.sub(" ", low) if "  " in low else low


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def expand(line: str) -> list[str]:
    """``"{i'm|i am} sorry"`` -> ``["i'm sorry", "i am sorry"]``."""
    parts = _BRACES.split(line)
    if any("{" in p or "}" in p for p in parts[::2]):
        raise ValueError("unbalanced or nested braces; write {a|b} groups side by side, not inside each other")
    options = [[part] if k % 2 == 0 else part.split("|") for k, part in enumerate(parts)]
    return ["".join(choice) for choice in itertools.product(*options)]


def load_phrase_file(path: Path) -> tuple[list[str], list[str]]:
    """Read a phrase list: (phrases, exceptions), folded and de-duplicated in file order."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read this phrase list ({exc}); give a UTF-8 text file.") from exc
    phrases: dict[str, None] = {}
    exceptions: dict[str, None] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        target = exceptions if line.startswith("!") else phrases
        try:
            expanded = expand(line.removeprefix("!"))
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: {exc}.") from exc
        for phrase in expanded:
            folded = fold(phrase).strip()
            if folded:
                target[folded] = None
    return list(phrases), list(exceptions)


class Match(NamedTuple):
    """A phrase found in a string; ``start``/``end`` index the original string."""

    start: int
    end: int
    phrase: str
    category: str


class PhraseMatcher:
    """Finds every phrase of every category in one pass over a string."""

    def __init__(
        self,
        phrases: Mapping[str, str],
        exceptions: Iterable[str] = (),
        regexes: Sequence[tuple[str, str]] = (),
        cues: Iterable[str] = (),
    ) -> None:
        self.automaton: Any = ahocorasick.Automaton()
        # A phrase that is also a cue stays a phrase: cues only matter where no phrase is.
        entries = [(p, CUE) for p in cues if p not in phrases]
        entries += [(p, c) for p, c in phrases.items()] + [(p, EXCEPTION) for p in exceptions]
        for phrase, category in entries:
            # Only a phrase that starts (ends) with a letter or digit needs a boundary there.
            value = (phrase, category, len(phrase), _is_word(phrase[0]), _is_word(phrase[-1]))
            self.automaton.add_word(phrase, value)
        self.size = len(phrases)
        if entries:
            self.automaton.make_automaton()
        self.regex_categories = [category for category, _ in regexes]
        self.regex_keys = [f"re:{pattern}" for _, pattern in regexes]
        # One alternation: one scan for all regexes too. Group names tell which one matched.
        joined = "|".join(f"(?P<_slop{k}>{pattern})" for k, (_, pattern) in enumerate(regexes))
        self.regex = re.compile(joined, re.IGNORECASE) if regexes else None

    def find(self, text: str) -> list[Match]:
        """Non-overlapping matches in ``text`` (longest first where they overlap), in order."""
        return self.scan(text)[0]

    def scan(self, text: str) -> tuple[list[Match], list[int]]:
        """``find``'s matches, and where in ``text`` the cues start."""
        low = _lower(text)
        folded = _RUNS.sub(" ", low) if "  " in low else low
        hits: list[tuple[int, int, str, str]] = []
        if self.automaton.kind == ahocorasick.AHOCORASICK:
            size = len(folded)
            for last, (phrase, category, length, left, right) in self.automaton.iter(folded):
                start = last - length + 1
                if left and start and _is_word(folded[start - 1]):
                    continue
                if right and last + 1 < size and _is_word(folded[last + 1]):
                    continue
                hits.append((start, last + 1, phrase, category))
        if self.regex is not None:
            for m in self.regex.finditer(folded):
                if m.end() > m.start():
                    k = next(k for k in range(len(self.regex_keys)) if m.start(f"_slop{k}") != -1)
                    hits.append((m.start(), m.end(), self.regex_keys[k], self.regex_categories[k]))
        if not hits:
            return [], []
        cues = [h[0] for h in hits if h[3] == CUE]
        if cues:
            hits = [h for h in hits if h[3] != CUE]
        return self._resolve(hits, cues, low if folded is not low else None)

    @staticmethod
    def _resolve(
        hits: list[tuple[int, int, str, str]], cues: list[int], low: str | None
    ) -> tuple[list[Match], list[int]]:
        hits.sort(key=lambda h: (h[0], h[0] - h[1], h[2]))
        blocked = [(s, e) for s, e, _, c in hits if c == EXCEPTION]
        kept: list[tuple[int, int, str, str]] = []
        reach = 0
        for hit in hits:
            start, end, _, category = hit
            if category == EXCEPTION or start < reach:
                continue
            if any(s < end and start < e for s, e in blocked):
                continue
            kept.append(hit)
            reach = end
        if low is None:
            return [Match(*hit) for hit in kept], cues
        # Whitespace runs were folded: map positions back to the original string.
        points: list[int] = []
        shifts: list[int] = []
        shift = 0
        for run in _RUNS.finditer(low):
            shift += run.end() - run.start() - 1
            points.append(run.end() - shift)
            shifts.append(shift)

        def original(pos: int) -> int:
            k = bisect_right(points, pos)
            return pos + (shifts[k - 1] if k else 0)

        return [Match(original(s), original(e - 1) + 1, p, c) for s, e, p, c in kept], [original(c) for c in cues]


# A sentence ends at . ! ? or … (and any closing quotes or brackets), then spaces, and
# the next one does not start in lower case ("e.g. this" stays one sentence).
# Sentence splitters (punkt, blingfire) also join the lines of a list into one
# sentence; here every line is its own unit, so a disclaimer line goes alone.
_SENTENCE_BREAK = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*[ \t]+(?![a-z])")
_BLANK_LINES = re.compile(r"\n{3,}")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every sentence of ``text``: each line, cut at sentence breaks."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        begin = 0
        for brk in [*(m.end() for m in _SENTENCE_BREAK.finditer(line)), len(line)]:
            if brk > begin:
                spans.append((offset + begin, offset + brk))
            begin = brk
        offset += len(line) + 1
    return spans


def strip_sentences(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Remove every sentence (or line) of ``text`` that overlaps one of ``spans``."""
    cut = [(s, e) for s, e in sentence_spans(text) if any(a < e and b > s for a, b in spans)]
    if not cut:
        return text
    kept_lines: list[str] = []
    offset = 0
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        inside = [(s - start, e - start) for s, e in cut if start <= s < end]
        if not inside:
            kept_lines.append(line)
            continue
        pieces, begin = [], 0
        for s, e in inside:
            pieces.append(line[begin:s])
            begin = e
        pieces.append(line[begin:])
        kept = "".join(pieces).rstrip()
        if kept.strip():
            kept_lines.append(kept)
    return _BLANK_LINES.sub("\n\n", "\n".join(kept_lines)).strip()


def _split_pairs(values: Any, what: str) -> Any:
    """Accept ``{category: value or [values]}`` (YAML) as well as ``["category=value"]``."""
    if isinstance(values, Mapping):
        out = []
        for category, items in values.items():
            for item in [items] if isinstance(items, str) else items or []:
                out.append(f"{category}={item}")
        return out
    return values


def _pair(entry: str, what: str) -> tuple[str, str]:
    category, sep, value = entry.partition("=")
    category = category.strip()
    if not sep or not value:
        raise ValueError(f"{what} entry {entry!r} must look like CATEGORY=VALUE, e.g. 'gptism=my_phrases.txt'")
    if not _CATEGORY.match(category):
        raise ValueError(f"{what} category {category!r} must be lower-case letters, digits and dashes")
    return category, value


class FilterSlopConfig(StageConfig):
    """Options of ``filter-slop``."""

    builtin_lists: list[Literal["refusal", "ai-disclaimer", "gptism"]] = Field(
        default_factory=lambda: list(BUILTIN_CATEGORIES),
        description="Built-in phrase lists to use, each its own category (dataprep/stages/filters/phrases/).",
    )
    phrase_lists: list[str] = Field(
        default_factory=list,
        description="Your own phrase lists as CATEGORY=FILE: one phrase per line, same format as the built-in "
        "ones; a phrase you list overrides the built-in category of the same phrase.",
    )
    regexes: list[str] = Field(
        default_factory=list,
        description="Your own regular expressions as CATEGORY=PATTERN; they see the folded text "
        "(lower case, straight quotes, single spaces).",
    )
    actions: dict[str, Action] = Field(
        default_factory=lambda: dict(DEFAULT_ACTIONS),
        description="Action per category: drop the record, strip the sentence, or flag it in meta. "
        "Given values override the defaults.",
    )
    check_prompts: bool = Field(
        False,
        description="Also check prompts (input, user and system turns); by default only output, "
        "assistant turns and text are checked.",
    )
    min_words_left: int = Field(
        5, ge=0, description="Drop a record when stripping leaves a checked field with fewer words than this."
    )
    max_density: float | None = Field(
        None, gt=0, description="Drop records with more flagged matches than this per 1,000 words."
    )
    families: bool = Field(
        True,
        description="Check sentences that hold a cue against the built-in phrase families (phrases with slots, "
        "e.g. 'as a <adjectives> assistant'), for the refusal and ai-disclaimer lists that are on.",
    )
    scorer: bool = Field(
        True,
        description="Score the cue sentences no phrase or family decided with the built-in sentence model "
        "(scikit-learn, CPU, about a millisecond a sentence); off: phrases and families only.",
    )
    scorer_threshold: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="The scorer's probability of refusal-or-disclaimer above which a sentence counts as one; "
        "higher keeps more (fewer false alarms, more misses).",
    )

    @field_validator("phrase_lists", "regexes", mode="before")
    @classmethod
    def _pairs(cls, value: Any, info: Any) -> Any:
        return _split_pairs(value, info.field_name)

    @field_validator("phrase_lists")
    @classmethod
    def _files_exist(cls, value: list[str]) -> list[str]:
        for entry in value:
            _, path = _pair(entry, "phrase_lists")
            if not Path(path).is_file():
                raise ValueError(f"phrase list {path!r} is not a file; give the path of a text file")
        return value

    @field_validator("regexes")
    @classmethod
    def _regexes_compile(cls, value: list[str]) -> list[str]:
        for entry in value:
            _, pattern = _pair(entry, "regexes")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex {pattern!r} does not compile: {exc}") from exc
            if compiled.match(""):
                raise ValueError(f"regex {pattern!r} matches the empty string; it would match everywhere")
        return value

    @field_validator("actions")
    @classmethod
    def _merge_defaults(cls, value: dict[str, Action]) -> dict[str, Action]:
        return {**DEFAULT_ACTIONS, **value}

    @model_validator(mode="after")
    def _every_category_has_an_action(self) -> FilterSlopConfig:
        used = set(self.builtin_lists)
        used |= {_pair(e, "phrase_lists")[0] for e in self.phrase_lists}
        used |= {_pair(e, "regexes")[0] for e in self.regexes}
        for category in sorted(used - set(self.actions)):
            raise ValueError(f"category {category!r} has no action; add actions {category}=drop, strip or flag")
        known = used | set(BUILTIN_CATEGORIES)
        for category in sorted(set(self.actions) - known):
            raise ValueError(
                f"actions names category {category!r}, which no list or regex uses{suggest(category, sorted(known))}"
            )
        return self


def build_matcher(config: FilterSlopConfig) -> PhraseMatcher:
    """The matcher for a config: built-in lists first, your lists override them.

    Matchers are immutable, so one built from the same lists (files unchanged) is reused.
    """
    files = []
    for entry in config.phrase_lists:
        stat = Path(_pair(entry, "phrase_lists")[1]).stat()
        files.append((entry, stat.st_mtime_ns, stat.st_size))
    cues = bool(learned_categories(config))
    return _cached_matcher(tuple(config.builtin_lists), tuple(files), tuple(config.regexes), cues)


def learned_categories(config: FilterSlopConfig) -> set[str]:
    """The categories the families and the scorer may decide for under ``config``."""
    if not (config.families or config.scorer):
        return set()
    return set(LEARNED_CATEGORIES) & set(config.builtin_lists)


@functools.lru_cache(maxsize=8)
def _cached_matcher(
    builtin_lists: tuple[str, ...], files: tuple, regex_entries: tuple[str, ...], cues: bool = False
) -> PhraseMatcher:
    phrases: dict[str, str] = {}
    exceptions: list[str] = []
    for category in builtin_lists:
        listed, excepted = load_phrase_file(PHRASE_DIR / f"{category}.txt")
        phrases.update(dict.fromkeys(listed, category))
        exceptions += excepted
    owner: dict[str, tuple[str, str]] = {}
    for entry, _, _ in files:
        category, path = _pair(entry, "phrase_lists")
        listed, excepted = load_phrase_file(Path(path))
        for phrase in listed:
            previous = owner.get(phrase)
            if previous and previous[0] != category:
                raise ConfigError(
                    f"{path}: the phrase {phrase!r} is also in {previous[1]} under {previous[0]!r}; "
                    "keep it in one category."
                )
            owner[phrase] = (category, path)
            phrases[phrase] = category
        exceptions += excepted
    regexes = [_pair(entry, "regexes") for entry in regex_entries]
    cue_phrases = load_phrase_file(PHRASE_DIR / "cues.txt")[0] if cues else []
    return PhraseMatcher(phrases, dict.fromkeys(exceptions), regexes, cue_phrases)


def _words(text: str) -> int:
    return len(text.split())


class Decision(NamedTuple):
    """Why a sentence is cut or a record dropped: by a listed phrase, a family or the scorer."""

    category: str
    by: Literal["rule", "family", "scorer"]
    name: str
    slot: int
    span: tuple[int, int]
    score: float | None = None

    def describe(self, text: str) -> dict[str, Any]:
        sentence = next((text[s:e] for s, e in sentence_spans(text) if s <= self.span[0] < e), "")
        out: dict[str, Any] = {"by": self.by, "category": self.category}
        out["phrase" if self.by == "rule" else "family" if self.by == "family" else "model"] = self.name
        out["sentence"] = sentence.strip()
        if self.score is not None:
            out["score"] = self.score
        return out

    def detail(self, text: str) -> str:
        if self.by == "rule":
            return f'{self.category}: "{self.name}"'
        sentence = self.describe(text)["sentence"]
        how = f"family {self.name}" if self.by == "family" else f"scorer {self.score:.2f}"
        return f'{self.category}: {how} on "{sentence[:200]}"'


class _Found(NamedTuple):
    slot: Slot
    text: str
    matches: list[Match]
    decisions: list[Decision]


@register
class FilterSlop(RecordStage):
    """Drop refusals, strip AI disclaimers and flag stylistic slop (phrase lists, families, a sentence scorer)."""

    name = "filter-slop"
    Config = FilterSlopConfig
    config: FilterSlopConfig

    @classmethod
    def referenced_files(cls, config: FilterSlopConfig) -> list[Path]:  # type: ignore[override]
        return [Path(_pair(entry, "phrase_lists")[1]) for entry in config.phrase_lists]

    worker_counters = ("hits", "category_hits", "outcomes", "decisions", "scored")

    def __init__(self, config: FilterSlopConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.matcher = build_matcher(config)
        learned = learned_categories(config)
        self.families: tuple[Family, ...] = (
            tuple(f for f in FAMILIES if f.category in learned) if config.families else ()
        )
        self.scored_categories = learned if config.scorer else set()
        self.hits: Counter[str] = Counter()
        self.category_hits: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.decisions: Counter[str] = Counter()
        self.scored: Counter[str] = Counter()

    def summary(self) -> dict[str, Any]:
        top = sorted(self.hits.items(), key=lambda item: (-item[1], item[0]))[:TOP_PHRASES]
        by_source: dict[str, dict[str, int]] = {}
        for source in ("rule", "family", "scorer"):
            by_source[source] = {k: self.decisions[f"{source}:{k}"] for k in ("dropped", "stripped")}
        return {
            "phrases": self.matcher.size + len(self.matcher.regex_keys),
            "hits_by_category": dict(sorted(self.category_hits.items())),
            "top_phrases": [{"phrase": phrase, "hits": hits} for phrase, hits in top],
            "records": {k: self.outcomes[k] for k in ("dropped", "stripped", "flagged")},
            "decisions": by_source,
            "scorer": {k: self.scored[k] for k in ("sentences", "positive")},
        }

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        found: dict[int, list[_Found] | None] = {}
        pending: list[tuple[int, int, tuple[int, int]]] = []
        for i in range(n):
            problem = record_problem(batch, i)
            if problem:
                reasons[i], details[i] = problem, "the record cannot be checked for slop"
            else:
                found[i] = self._scan(batch, i, pending)
        self._score(found, pending)
        for i, record in found.items():
            if record is not None:
                reasons[i], details[i] = self._judge(batch, i, record)
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch

    def _scan(self, batch: Batch, i: int, pending: list[tuple[int, int, tuple[int, int]]]) -> list[_Found] | None:
        """Match every slot of record ``i``; decide cue sentences by family, queue the rest for the scorer.

        None when no slot holds a phrase or a cue: most records, and they need nothing more.
        """
        actions = self.config.actions
        out = []
        anything = dropped = False
        learned = bool(self.families or self.scored_categories)
        for k, slot in enumerate(slots(batch, i, prompts=self.config.check_prompts)):
            text = get(batch, i, slot)
            matches, cues = self.matcher.scan(text)
            if not matches and not (cues and learned):
                out.append(_Found(slot, text, matches, []))
                continue
            anything = True
            for m in matches:
                self.hits[m.phrase] += 1
                self.category_hits[m.category] += 1
                dropped = dropped or actions[m.category] == "drop"
            decisions = [Decision(m.category, "rule", m.phrase, k, (m.start, m.end)) for m in matches]
            # A record a phrase drops needs no more looking at.
            if cues and learned and not dropped:
                decided = [(m.start, m.end) for m in matches if actions[m.category] != "flag"]
                for number, span in self._cue_sentences(text, cues, decided):
                    sentence = fold(text[span[0] : span[1]]).strip()
                    family = family_hits(sentence, number < 2, self.families)
                    if family is not None:
                        self.hits[f"family:{family.name}"] += 1
                        self.category_hits[family.category] += 1
                        decisions.append(Decision(family.category, "family", family.name, k, span))
                    elif self.scored_categories:
                        pending.append((i, k, span))
            out.append(_Found(slot, text, matches, decisions))
        return out if anything else None

    @staticmethod
    def _cue_sentences(text: str, cues: list[int], decided: list[tuple[int, int]]) -> list[tuple[int, tuple[int, int]]]:
        """(sentence number, span) of each sentence holding a cue and no deciding phrase."""
        spans = sentence_spans(text)
        starts = [s for s, _ in spans]
        chosen: dict[int, tuple[int, int]] = {}
        for cue in cues:
            k = bisect_right(starts, cue) - 1
            if k >= 0 and cue < spans[k][1]:
                chosen[k] = spans[k]
        return [
            (k, span) for k, span in sorted(chosen.items()) if not any(s < span[1] and e > span[0] for s, e in decided)
        ]

    def _score(self, found: dict[int, list[_Found] | None], pending: list[tuple[int, int, tuple[int, int]]]) -> None:
        """Score the queued sentences in one call; add a decision for each that passes the threshold."""
        if not pending:
            return
        from dataprep.stages.filters.slop_scorer import load_scorer

        texts = [found[i][k].text[s:e] for i, k, (s, e) in pending]  # type: ignore[index]
        self.scored["sentences"] += len(texts)
        for (i, k, span), (category, score) in zip(pending, load_scorer().score(texts)):
            if score >= self.config.scorer_threshold and category in self.scored_categories:
                self.scored["positive"] += 1
                self.hits["scorer"] += 1
                self.category_hits[category] += 1
                found[i][k].decisions.append(  # type: ignore[index]
                    Decision(category, "scorer", "sentence-scorer", k, span, score)
                )

    def _judge(self, batch: Batch, i: int, record: list[_Found]) -> tuple[str | None, str | None]:
        """Apply the actions to record ``i`` in place; return a reject reason and detail, or Nones."""
        actions = self.config.actions
        meta = dict(batch["meta"][i] or {})
        # Drops first: a rule's, then a family's, then the scorer's, in text order.
        for by in ("rule", "family", "scorer"):
            for part in record:
                for d in part.decisions:
                    if d.by == by and actions[d.category] == "drop":
                        return self._reject(batch, i, meta, d, part.text, d.detail(part.text))
        stripped: list[Decision] = []
        described: list[dict[str, Any]] = []
        words = 0
        flags: Counter[str] = Counter()
        for part in record:
            text = part.text
            cut = [d for d in part.decisions if actions[d.category] == "strip"]
            if cut:
                described += [d.describe(text) for d in cut]
                text = strip_sentences(text, [d.span for d in cut])
                left = _words(text)
                if left < self.config.min_words_left:
                    detail = (
                        f"{cut[0].detail(part.text)} stripped, {left} words left "
                        f"(min_words_left is {self.config.min_words_left})"
                    )
                    return self._reject(batch, i, meta, cut[0], part.text, detail)
                put(batch, i, part.slot, text)
                stripped += cut
                matches = self.matcher.find(text)
            else:
                matches = part.matches
            words += _words(text)
            flags.update(m.phrase for m in matches if actions[m.category] == "flag")
            flags.update(d.name for d in part.decisions if d.by != "rule" and actions[d.category] == "flag")
        if not stripped and not flags:
            return None, None
        slop: dict[str, Any] = {}
        if stripped:
            slop["stripped"] = sorted({d.name if d.by == "rule" else f"{d.by}:{d.name}" for d in stripped})
            slop["decisions"] = described
            self.outcomes["stripped"] += 1
            for by in sorted({d.by for d in stripped}):
                self.decisions[f"{by}:stripped"] += 1
        if flags:
            density = round(1000 * sum(flags.values()) / max(words, 1), 2)
            slop["flags"] = dict(sorted(flags.items()))
            slop["density"] = density
            self.outcomes["flagged"] += 1
        meta["slop"] = slop
        batch["meta"][i] = meta
        limit = self.config.max_density
        if flags and limit is not None and slop["density"] > limit:
            self.outcomes["dropped"] += 1
            detail = f"{sum(flags.values())} flagged phrases in {words} words: {slop['density']} per 1,000 > {limit}"
            return "slop-density", detail
        return None, None

    def _reject(self, batch: Batch, i: int, meta: dict, decision: Decision, text: str, detail: str) -> tuple[str, str]:
        meta["slop"] = {"decided_by": decision.describe(text)}
        batch["meta"][i] = meta
        self.outcomes["dropped"] += 1
        self.decisions[f"{decision.by}:dropped"] += 1
        return f"slop-{decision.category}", detail
