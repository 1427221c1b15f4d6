"""Which text of a record gets embedded (and shown in the cluster report)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dataprep.records import Batch, batch_len

DEFAULT_FIELDS = ["input", "output"]


def field_value(batch: Batch, i: int, name: str) -> str | None:
    if name.startswith("meta."):
        value: Any = (batch["meta"][i] or {}).get(name[5:])
    elif name == "messages":
        messages = batch["messages"][i] or []
        value = "\n".join(m["content"] for m in messages if m.get("content"))
    else:
        value = batch.get(name, [None] * batch_len(batch))[i]
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def record_texts(batch: Batch, fields: Sequence[str] = DEFAULT_FIELDS) -> list[str]:
    """The named fields of each record joined by a newline.

    A record that has none of them (a ``text`` record when embedding input and output)
    falls back to its ``text``, then to its messages' contents, so every record format
    embeds without extra options. Blank parts are skipped; the result may be empty.
    """
    texts = []
    for i in range(batch_len(batch)):
        parts = [v for v in (field_value(batch, i, f) for f in fields) if v is not None]
        if not parts:
            parts = [v for v in (field_value(batch, i, f) for f in ("text", "messages")) if v is not None]
        texts.append("\n".join(p.strip() for p in parts if p.strip()))
    return texts
