"""``redact-pii``: find personal data and secrets in every string of a record, then redact, drop or flag.

Looks at ``text``, ``input``, ``output`` and every turn of ``messages`` (a fine-tune memorises
prompts too). What counts as each category is in :mod:`dataprep.stages.privacy.detect`.
Per category, one action:

- ``redact`` (the default): the item becomes a typed placeholder, ``<EMAIL>``; with
  ``consistent: true``, a pseudonym keyed by ``salt`` (``<EMAIL_5f0c2a1e>``), so the same
  address gets the same placeholder everywhere in the run and threads stay readable;
- ``drop``: the record goes to the rejects file, reason ``pii-<category>``;
- ``flag``: the record is kept as it is.

Every finding lands in ``meta.pii`` as ``{category, field, start, end, action}`` (``field`` is
``output``, ``input``, ``text`` or ``messages.N``; positions index the string as written out, so
a redacted finding points at its placeholder). Neither ``meta.pii``, ``stats.json`` nor the
rejects file ever holds a value: a dropped record is written to the rejects redacted.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dataprep.errors import ConfigError
from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.content import Slot, get, put, record_problem, slots
from dataprep.stages.privacy.columns import split_commas
from dataprep.stages.privacy.detect import (
    CATEGORIES,
    OPTIONAL_CATEGORIES,
    Detector,
    Finding,
    PiiDetector,
    load_detector,
    resolve,
)

Action = Literal["redact", "drop", "flag"]


class RedactPiiConfig(StageConfig):
    """Options of ``redact-pii``."""

    categories: list[str] = Field(
        default_factory=lambda: list(CATEGORIES),
        description="Built-in categories to look for: secret, email, iban, card, ip, phone, and address "
        "(street addresses, off by default).",
    )
    actions: dict[str, Action] = Field(
        default_factory=dict,
        description="Action per category, e.g. secret=drop or phone=flag; categories not named get default_action.",
    )
    default_action: Action = Field("redact", description="Action for categories that actions does not name.")
    consistent: bool = Field(
        False,
        description="Redact to pseudonyms keyed by salt (<EMAIL_5f0c2a1e>) instead of one placeholder per "
        "category, so the same value maps to the same placeholder throughout the run.",
    )
    salt: str | None = Field(
        None,
        description="Secret key of the consistent pseudonyms (required with consistent). Keep it out of the "
        "data you publish: with it, a guessed address can be checked against its pseudonym.",
    )
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US"],
        description="Regions (ISO 3166 codes such as US, GB, DE) whose national formats count as phone numbers; "
        "numbers written with +country code are found whatever this says.",
    )
    private_ips: bool = Field(
        False,
        description="Also count private, loopback and reserved IP addresses (192.168.0.1, 127.0.0.1), which "
        "identify no one outside their network.",
    )
    detectors: list[str] = Field(
        default_factory=list,
        description="Extra detectors by import path, package.module:factory; the factory returns an object with "
        "`categories` and `find(text)` returning Finding(start, end, category) spans (person names, say).",
    )

    @field_validator("categories", "phone_regions", "detectors", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("categories")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CATEGORIES) - set(OPTIONAL_CATEGORIES))
        if unknown:
            raise ValueError(
                f"unknown categories {', '.join(unknown)}; choose from {', '.join(CATEGORIES + OPTIONAL_CATEGORIES)} "
                "(other categories come from detectors)"
            )
        return value

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        import phonenumbers

        value = [region.upper() for region in value]
        unknown = [region for region in value if region not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone regions {', '.join(unknown)}; use ISO 3166 codes such as US, GB, DE, FR")
        return value

    @model_validator(mode="after")
    def _salted(self) -> RedactPiiConfig:
        if self.consistent and not self.salt:
            raise ValueError("consistent pseudonyms need a salt: give salt (a secret string of your choosing)")
        return self


@register
class RedactPii(RecordStage):
    """Redact, drop or flag records with personal data or secrets (e-mail, phone, IP, card, IBAN, keys)."""

    name = "redact-pii"
    Config = RedactPiiConfig
    config: RedactPiiConfig
    worker_counters = ("detections", "outcomes")

    def __init__(self, config: RedactPiiConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        cfg = self.config
        self.builtin = PiiDetector(cfg.categories, cfg.phone_regions, cfg.private_ips)
        self.plugins: list[Detector] = [load_detector(spec) for spec in cfg.detectors]
        known = set(self.builtin.categories).union(*(p.categories for p in self.plugins))
        unknown = sorted(set(cfg.actions) - known)
        if unknown:
            raise ConfigError(
                f"redact-pii actions: no category {', '.join(unknown)} is looked for; the categories are "
                f"{', '.join(sorted(known))} (add built-in ones with categories, others with detectors)."
            )
        self.actions = {category: cfg.actions.get(category, cfg.default_action) for category in known}
        self._key = (cfg.salt or "").encode("utf-8")
        #: Findings by category, and records by what happened to them.
        self.detections: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()

    def summary(self) -> dict[str, Any]:
        return {
            "detections": dict(sorted(self.detections.items())),
            "records": {k: self.outcomes.get(k, 0) for k in ("with_pii", "redacted", "flagged")},
            "actions": dict(sorted(self.actions.items())),
        }

    def find(self, text: str) -> list[Finding]:
        found = self.builtin.find(text)
        if self.plugins:
            for plugin in self.plugins:
                found.extend(plugin.find(text))
            found = resolve(found)
        return found

    def placeholder(self, category: str, value: str) -> str:
        label = category.upper()
        if not self.config.consistent:
            return f"<{label}>"
        # The same person's address written twice in different case is one address.
        key = value.lower() if category == "email" else "".join(value.split())
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), key=self._key[:64], digest_size=4)
        return f"<{label}_{digest.hexdigest()}>"

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        for i in range(n):
            reasons[i], details[i] = self._record(batch, i)
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch

    def _record(self, batch: Batch, i: int) -> tuple[str | None, str | None]:
        problem = record_problem(batch, i)
        if problem:
            return problem, "the record has no usable content"
        found: list[tuple[Slot, list[Finding]]] = []
        for slot in slots(batch, i, responses=True, prompts=True):
            findings = self.find(get(batch, i, slot))
            if findings:
                found.append((slot, findings))
        if not found:
            return None, None
        self.outcomes["with_pii"] += 1
        drop = [(slot, f) for slot, findings in found for f in findings if self.actions[f.category] == "drop"]
        meta = dict(batch["meta"][i] or {})
        entries: list[dict[str, Any]] = []
        for slot, findings in found:
            self.detections.update(f.category for f in findings)
            # A dropped record goes to the rejects redacted, so the rejects file holds no value either.
            entries.extend(self._rewrite(batch, i, slot, findings, redact_all=bool(drop)))
        meta["pii"] = entries
        batch["meta"][i] = meta
        if drop:
            detail = "; ".join(f"{f.category} in {_field(slot)} at {f.start}-{f.end}" for slot, f in drop)
            return f"pii-{drop[0][1].category}", detail
        actions = {entry["action"] for entry in entries}
        self.outcomes.update(
            done for action, done in (("redact", "redacted"), ("flag", "flagged")) if action in actions
        )
        return None, None

    def _rewrite(
        self, batch: Batch, i: int, slot: Slot, findings: list[Finding], redact_all: bool
    ) -> list[dict[str, Any]]:
        """Write the slot back with its redactions; the meta.pii entries, positioned in the new string."""
        text = get(batch, i, slot)
        pieces: list[str] = []
        entries: list[dict[str, Any]] = []
        at = 0
        length = 0
        for f in findings:
            action = self.actions[f.category]
            before = text[at : f.start]
            pieces.append(before)
            length += len(before)
            value = text[f.start : f.end]
            replaced = self.placeholder(f.category, value) if redact_all or action == "redact" else value
            pieces.append(replaced)
            entries.append(
                {
                    "category": f.category,
                    "field": _field(slot),
                    "start": length,
                    "end": length + len(replaced),
                    "action": action,
                }
            )
            length += len(replaced)
            at = f.end
        pieces.append(text[at:])
        new = "".join(pieces)
        if new != text:
            put(batch, i, slot, new)
        return entries


def _field(slot: Slot) -> str:
    return slot.column if slot.turn is None else f"messages.{slot.turn}"
