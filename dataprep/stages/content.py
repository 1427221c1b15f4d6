"""Which parts of a record a stage looks at: the response side, the prompt side, or both.

Filters judge what the model will learn to say (``output``, assistant turns,
``text``) and leave prompts alone unless asked. A :class:`Slot` names one
string inside a record, so a stage can read it and write a cleaned version back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from dataprep.records import CONTENT_COLUMNS, Batch, check_record

#: Roles whose turns count as the response side of a chat record.
RESPONSE_ROLES = frozenset({"assistant"})


class Slot(NamedTuple):
    """One string of a record: a column, or one turn of ``messages``."""

    column: str
    turn: int | None = None


def record_problem(batch: Batch, i: int) -> str | None:
    """Why row ``i`` cannot be judged (a reject reason such as ``empty-text``), or None.

    Readers already reject bad JSONL lines; this catches the same problems in
    batches that come from elsewhere (Parquet written by another tool, a
    stage called from Python), so a bad record is rejected, never a crash.
    """
    text, prompt, answer = batch["text"][i], batch["input"][i], batch["output"][i]
    meta = batch["meta"][i] if "meta" in batch else None
    # The two common shapes, checked without building a dict (this runs for every record).
    if batch["messages"][i] is None and (meta is None or type(meta) is dict):
        if text is None and type(prompt) is str and type(answer) is str and answer and not answer.isspace():
            return None
        if prompt is None and answer is None and type(text) is str and text and not text.isspace():
            return None
    row: dict[str, Any] = {name: batch[name][i] for name in CONTENT_COLUMNS if name in batch}
    if not any(row.get(name) is not None for name in CONTENT_COLUMNS):
        return "missing-content"
    row["meta"] = meta if meta is None or isinstance(meta, dict) else "bad"
    return check_record(row)


def slots(batch: Batch, i: int, *, responses: bool = True, prompts: bool = False) -> list[Slot]:
    """The strings of row ``i`` on the chosen side(s), in record order.

    ``text`` counts as a response: a plain-text record is all the model learns from.
    """
    out: list[Slot] = []
    messages = batch["messages"][i]
    if messages:
        for turn, message in enumerate(messages):
            is_response = message.get("role") in RESPONSE_ROLES
            if (is_response and responses) or (not is_response and prompts):
                out.append(Slot("messages", turn))
        return out
    if batch["input"][i] is not None or batch["output"][i] is not None:
        if prompts and batch["input"][i] is not None:
            out.append(Slot("input"))
        if responses and batch["output"][i] is not None:
            out.append(Slot("output"))
        return out
    if batch["text"][i] is not None:
        out.append(Slot("text"))
    return out


def get(batch: Batch, i: int, slot: Slot) -> str:
    if slot.turn is None:
        return batch[slot.column][i] or ""
    return batch["messages"][i][slot.turn]["content"] or ""


def put(batch: Batch, i: int, slot: Slot, value: str) -> None:
    if slot.turn is None:
        batch[slot.column][i] = value
        return
    messages = [dict(m) for m in batch["messages"][i]]
    messages[slot.turn]["content"] = value
    batch["messages"][i] = messages
