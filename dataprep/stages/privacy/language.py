"""``filter-language``: identify each record's language offline, keep the ones asked for.

The identifier is py3langid (langid.py's naive Bayes model over byte n-grams, 97 languages,
shipped inside the package, so nothing is downloaded). Against lingua-language-detector on our
labelled set (``tests/data/lang_labelled.jsonl``: 236 texts in 10 languages, a third of them two
to six words) it was as accurate (231 against 232 right) and about nine times faster; see
``benchmarks/lang_quality.py``.

By default the response side is judged (``output``, assistant turns, ``text``): that is what the
model learns to write. Results go to meta:

- ``meta.lang``: an ISO 639-1 code; ``und`` when the best score is under ``min_score`` (symbols,
  numbers, code, a word or two), ``mixed`` when a second language holds at least ``mixed_share``
  of the text's sentences (by characters); such records are counted, never given a guess;
- ``meta.lang_score``: the identifier's probability for that language (for ``mixed``, the share
  of the main language); ``meta.langs``: the shares of a mixed record's languages;
- ``meta.lang_declared``: what ``meta.lang`` held before, when a source stage put a *declared*
  language there (extract-html copies the page's ``<html lang>``), so both can be compared.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from pydantic import Field, field_validator

from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.content import get, record_problem, slots
from dataprep.stages.privacy.columns import split_commas

UNDETERMINED = "und"
MIXED = "mixed"
# Sentence ends and line breaks: the units of the mixed-language check.
_BREAK = re.compile(r"(?<=[.!?。！？])\s+|\n+")
#: Sentences shorter than this (characters) are left out of the mixed-language check.
_MIN_CHUNK = 16
#: A sentence counts towards a mixed verdict only when identified at least this surely: one short
#: sentence scoring 0.3 for another language is noise, not a second language.
_SURE = 0.5
#: py3langid's answer for text without linguistic content.
_NO_LANGUAGE = "zxx"
#: Classes py3langid gives to another language's text: its Nigerian Pidgin class (English-lexified)
#: takes short, informal or code-heavy English ("Not for me, sorry.", "import sys; print(...)").
_SAME_AS = {"pcm": "en"}


def load_identifier(languages: list[str] | None = None) -> Any:
    """py3langid's model with probabilities normalised to 1 (optionally over fewer languages)."""
    import py3langid.langid as langid

    identifier = langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE, norm_probs=True)
    if languages:
        identifier.set_languages(languages)
    return identifier


def chunks(text: str) -> list[str]:
    """Sentences and lines long enough to judge on their own, for the mixed-language check."""
    return [piece for piece in _BREAK.split(text) if len(piece) >= _MIN_CHUNK]


class FilterLanguageConfig(StageConfig):
    """Options of ``filter-language``."""

    keep: list[str] = Field(
        default_factory=list,
        description="Languages to keep (ISO 639-1 codes, e.g. en,de); empty keeps every record and only "
        "writes meta.lang.",
    )
    min_score: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Below this probability a record's language is undetermined (und). py3langid spreads its "
        "probability over 97 languages, so a short but clear sentence may score 0.3.",
    )
    side: Literal["response", "prompt", "both"] = Field(
        "response",
        description="Which strings are judged: the response (output, assistant turns, text), the prompt "
        "(input, user and system turns), or both together.",
    )
    mixed_share: float = Field(
        0.2,
        gt=0,
        le=0.5,
        description="A record is mixed when a second language holds at least this share of its sentences "
        "(by characters, counting only sentences of 16+ characters identified with probability 0.5 or more).",
    )
    keep_undetermined: bool = Field(
        False, description="With keep: also keep records whose language is undetermined (und)."
    )
    languages: list[str] = Field(
        default_factory=list,
        description="Restrict the identifier to these candidate languages (more accurate when you know them); "
        "empty: all 97 it knows.",
    )

    @field_validator("keep", "languages", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("keep", "languages")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        value = [code.lower() for code in value]
        bad = [code for code in value if not re.fullmatch(r"[a-z]{2,3}", code)]
        if bad:
            raise ValueError(f"{', '.join(bad)}: give ISO 639-1 language codes such as en, de, fr")
        return value


@register
class FilterLanguage(RecordStage):
    """Identify each record's language offline (py3langid) into meta.lang; keep only the languages asked for."""

    name = "filter-language"
    Config = FilterLanguageConfig
    config: FilterLanguageConfig
    worker_counters = ("detected", "kept")

    def __init__(self, config: FilterLanguageConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self._identifier: Any = None
        #: Records by detected language (und and mixed included), and the kept ones.
        self.detected: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()

    def summary(self) -> dict[str, Any]:
        return {
            "detected": dict(self.detected.most_common()),
            "kept": dict(self.kept.most_common()),
            "languages": sorted(code for code in self.kept if code not in (UNDETERMINED, MIXED)),
        }

    @property
    def identifier(self) -> Any:
        if self._identifier is None:
            self._identifier = load_identifier(self.config.languages)
        return self._identifier

    def identify(self, text: str) -> tuple[str, float, dict[str, float] | None]:
        """(language, score, shares of a mixed text's languages or None)."""
        cfg = self.config
        lang, score = self._classify(text)
        parts = chunks(text)
        if len(parts) > 1:
            sizes: Counter[str] = Counter()
            for part in parts:
                part_lang, part_score = self._classify(part)
                if part_score >= max(cfg.min_score, _SURE) and part_lang != _NO_LANGUAGE:
                    sizes[part_lang] += len(part)
            total = sum(sizes.values())
            if len(sizes) > 1 and total:
                shares = {code: size / total for code, size in sizes.most_common()}
                if list(shares.values())[1] >= cfg.mixed_share:
                    rounded = {code: round(share, 3) for code, share in shares.items() if share >= cfg.mixed_share}
                    return MIXED, round(next(iter(shares.values())), 3), rounded
        if score < cfg.min_score or lang == _NO_LANGUAGE:
            return UNDETERMINED, round(float(score), 3), None
        return str(lang), round(float(score), 3), None

    def _classify(self, text: str) -> tuple[str, float]:
        lang, score = self.identifier.classify(text)
        return _SAME_AS.get(lang, lang), score

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        responses = self.config.side in ("response", "both")
        prompts = self.config.side in ("prompt", "both")
        for i in range(n):
            problem = record_problem(batch, i)
            if problem:
                reasons[i], details[i] = problem, "the record has no usable content"
                continue
            text = "\n".join(get(batch, i, slot) for slot in slots(batch, i, responses=responses, prompts=prompts))
            lang, score, shares = self.identify(text) if text.strip() else (UNDETERMINED, 0.0, None)
            meta = dict(batch["meta"][i] or {})
            if "lang" in meta and "lang_score" not in meta:
                meta["lang_declared"] = meta.pop("lang")  # a source's declared language, not a detection
            meta.pop("langs", None)
            meta.update(lang=lang, lang_score=score, **({"langs": shares} if shares else {}))
            batch["meta"][i] = meta
            self.detected[lang] += 1
            reasons[i], details[i] = self._verdict(lang, score, shares)
            if reasons[i] is None:
                self.kept[lang] += 1
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch

    def _verdict(self, lang: str, score: float, shares: dict[str, float] | None) -> tuple[str | None, str | None]:
        keep = self.config.keep
        if not keep:
            return None, None
        wanted = ", ".join(keep)
        if lang == UNDETERMINED:
            if self.config.keep_undetermined:
                return None, None
            return "language-undetermined", f"best guess under min_score ({score}); keep: {wanted}"
        if lang == MIXED:
            assert shares is not None
            if set(shares) <= set(keep):
                return None, None
            mix = ", ".join(f"{code} {share:.0%}" for code, share in shares.items())
            return "language-mixed", f"{mix}; keep: {wanted}"
        if lang in keep:
            return None, None
        return "language-not-kept", f"{lang} ({score}); keep: {wanted}"
