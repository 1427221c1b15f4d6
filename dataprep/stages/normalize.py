"""``normalize``: clean the text of every record and, optionally, convert its format.

Fixes mojibake (``CafÃ©`` -> ``Café``) and HTML entities with ftfy, applies
Unicode normalisation, removes control characters, folds runs of spaces and
blank lines, and can turn input/output pairs into chat ``messages`` or back.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, Literal

from pydantic import Field

from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register


@functools.cache
def _ftfy_config():  # noqa: ANN202 - ftfy is imported on first use, not at start-up
    """Repair only what is broken; leave curly quotes, ligatures and widths as the author wrote them."""
    import ftfy

    return ftfy.TextFixerConfig(
        uncurl_quotes=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        fix_line_breaks=False,
        normalization=None,
    )


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TRAILING = re.compile(r" +\n")
_BLANK_LINES = re.compile(r"\n{3,}")


class NormalizeConfig(StageConfig):
    """Options of ``normalize``."""

    fix_mojibake: bool = Field(True, description="Repair mis-decoded text and HTML entities with ftfy.")
    unicode_form: Literal["NFC", "NFKC", "none"] = Field(
        "NFC", description="Unicode normalisation form; NFKC also folds compatibility characters (ﬁ -> fi)."
    )
    strip_control: bool = Field(True, description="Remove control and zero-width characters (keeps newlines, tabs).")
    whitespace: Literal["keep", "collapse"] = Field(
        "collapse",
        description="collapse: fold runs of spaces, drop trailing spaces, keep at most one blank line, trim ends.",
    )
    to_format: Literal["keep", "messages", "input-output"] = Field(
        "keep",
        description="Convert input/output pairs to chat messages (user, assistant), or two-turn messages back.",
    )
    system_prompt: str | None = Field(None, description="System message to put first when converting to messages.")


@register
class Normalize(RecordStage):
    """Clean text (mojibake, Unicode form, control characters, whitespace) and convert formats."""

    name = "normalize"
    Config = NormalizeConfig
    config: NormalizeConfig

    def clean(self, text: str | None) -> str | None:
        if text is None:
            return None
        cfg = self.config
        # Pure-ASCII text without entities has nothing for ftfy to repair; skipping it is ~5x faster.
        if cfg.fix_mojibake and not (text.isascii() and "&" not in text):
            import ftfy

            text = ftfy.fix_text(text, _ftfy_config())
        if cfg.unicode_form != "none":
            text = unicodedata.normalize(cfg.unicode_form, text)
        if cfg.strip_control:
            text = _CONTROL.sub("", text)
        if cfg.whitespace == "collapse":
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            text = _SPACES.sub(" ", text)
            text = _TRAILING.sub("\n", text)
            text = _BLANK_LINES.sub("\n\n", text).strip()
        return text

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        for column in ("text", "input", "output"):
            batch[column] = [self.clean(v) for v in batch[column]]
        batch["messages"] = [
            [{"role": m["role"], "content": self.clean(m["content"])} for m in msgs] if msgs else msgs
            for msgs in batch["messages"]
        ]
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        for i in range(n):
            reasons[i], details[i] = self._convert(batch, i)
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch

    def _convert(self, batch: Batch, i: int) -> tuple[str | None, str | None]:
        """Convert record ``i`` in place; return a reject reason if nothing usable is left."""
        text, inp, out, msgs = batch["text"][i], batch["input"][i], batch["output"][i], batch["messages"][i]
        target = self.config.to_format
        if msgs:
            if not any(m["content"] for m in msgs):
                return "empty-after-normalize", "every message is empty after cleaning"
            if target == "input-output":
                users = [m for m in msgs if m["role"] == "user"]
                answers = [m for m in msgs if m["role"] == "assistant"]
                if len(users) != 1 or len(answers) != 1:
                    return "not-convertible", "only a single user/assistant exchange converts to input/output"
                batch["input"][i], batch["output"][i], batch["messages"][i] = (
                    users[0]["content"],
                    answers[0]["content"],
                    None,
                )
            return None, None
        if inp is not None or out is not None:
            if not out:
                return "empty-after-normalize", "the output is empty after cleaning"
            if target == "messages":
                messages: list[dict[str, Any]] = []
                if self.config.system_prompt:
                    messages.append({"role": "system", "content": self.config.system_prompt})
                if inp:
                    messages.append({"role": "user", "content": inp})
                messages.append({"role": "assistant", "content": out})
                batch["messages"][i], batch["input"][i], batch["output"][i] = messages, None, None
            return None, None
        if not text:
            return "empty-after-normalize", "the text is empty after cleaning"
        return None, None
