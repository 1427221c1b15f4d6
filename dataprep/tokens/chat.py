"""Which characters of a rendered conversation belong to the assistant.

Two ways, both giving the rendered text and the assistant's character spans:

- Templates with ``{% generation %}`` markers say it themselves; transformers'
  renderer reports the marked spans.
- Any other template is rendered incrementally: the assistant's turn ``i`` is what
  ``render(messages[:i + 1])`` adds after ``render(messages[:i], add_generation_prompt=True)``.
  That is exactly what a model generates at inference. A template that rewrites earlier
  turns (so a prefix is not a prefix) is reported instead of guessed at.

Either way each span is then made to end exactly after the template's end-of-turn
token(s): the control tokens the template writes right after the assistant's content
(``<|im_end|>``, ``<|eot_id|>``, ``<end_of_turn>``, ``</s>`` ...). A marked span that
stops before them is extended (the model must learn to stop), and what a turn renders
after them (ChatML's newline) stays masked, since the model never generates it. A turn
with no end-of-turn token, or whose generation prompt leaves part of the assistant's
header to be generated, is reported.

The text is then cut at the span edges and each piece tokenized by itself, so every
token is wholly prompt or wholly assistant; none straddles the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


class ChatError(ValueError):
    """A conversation the template cannot render into prompt and assistant parts."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Rendered:
    """A rendered conversation, its assistant spans, and the inference mismatches its rendering fixed."""

    text: str
    spans: list[tuple[int, int]]
    fixed: set[str] = field(default_factory=set)


def clean_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without None-valued keys, as ``apply_chat_template`` renders them (Parquet fills absent ones)."""
    return [{key: value for key, value in message.items() if value is not None} for message in messages]


def _render(template: str, messages: list[dict[str, Any]], specials: dict[str, Any], **kwargs: Any) -> Any:
    from jinja2 import TemplateError
    from transformers.utils.chat_template_utils import render_jinja_template

    try:
        return render_jinja_template(conversations=[messages], chat_template=template, **specials, **kwargs)
    except TemplateError as exc:
        raise ChatError("chat-template-error", f"the chat template rejects this conversation: {exc}") from exc


def _controls_at(text: str, at: int, controls: tuple[str, ...]) -> int:
    """The end of the run of control tokens starting at ``at`` (``at`` itself when none starts there)."""
    while True:
        token = next((c for c in controls if text.startswith(c, at)), None)
        if token is None:
            return at
        at += len(token)


def end_of_turn(generated: str, content: Any, controls: tuple[str, ...], turn: int) -> tuple[int, int] | None:
    """Where the content ends and where the end-of-turn tokens after it end, in a turn's generated text.

    None when the content cannot be found in it (a template that rewrites the content, or
    content given as a list of parts).
    """
    if not isinstance(content, str):
        return None
    key = content.strip()
    start = generated.find(key) if key else 0
    if start < 0:
        return None
    header = next((c for c in controls if c in generated[:start]), None)
    if header is not None:
        raise ChatError(
            "other",
            f"assistant turn {turn}: the generation prompt (add_generation_prompt=True) does not include the "
            f"assistant's header, so the model would have to generate {header!r} itself; give a template that "
            "writes the header when add_generation_prompt is set (--chat-template)",
        )
    content_end = start + len(key)
    at = content_end
    while at < len(generated) and generated[at] in " \t\n" and _controls_at(generated, at, controls) == at:
        at += 1
    eot_end = _controls_at(generated, at, controls)
    if eot_end == at:
        raise ChatError(
            "missing-eos",
            f"assistant turn {turn}: the template writes no end-of-turn token after the assistant's content "
            f"(it renders {generated[content_end : content_end + 30]!r}), so the model would never learn to stop; "
            "give a template that ends assistant turns with EOS or an end-of-turn token (--chat-template)",
        )
    return content_end, eot_end


def render_chat(
    template: str, messages: list[dict[str, Any]], specials: dict[str, Any], controls: tuple[str, ...]
) -> Rendered:
    """The rendered conversation and the ``[start, end)`` character spans of the assistant's turns.

    ``controls`` are the tokenizer's control (special) tokens, longest first.
    """
    messages = clean_messages(messages)
    turns = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    if not turns:
        raise ChatError("no-assistant-turn", "the conversation has no assistant message to train on")
    marked = bool(GENERATION_TAG.search(template))
    if marked:
        rendered, marks = _render(template, messages, specials, return_assistant_tokens_mask=True)
        full, marks = rendered[0], [tuple(span) for span in marks[0]]
    else:
        full, marks = _render(template, messages, specials)[0][0], []
    out = Rendered(full, [], set() if marked else {"template-without-generation-markers"})
    for n, i in enumerate(turns):
        prompt = _render(template, messages[:i], specials, add_generation_prompt=True)[0][0]
        turn = _render(template, messages[: i + 1], specials)[0][0]
        ends = None
        if turn.startswith(prompt):
            ends = end_of_turn(turn[len(prompt) :], messages[i].get("content"), controls, i)
        if marked:
            out.spans.append(
                _fit_mark(full, marks[n], turn, prompt, ends, out) if len(marks) == len(turns) else marks[n]
            )
            continue
        end = len(turn) if ends is None else len(prompt) + ends[1]
        if not (turn.startswith(prompt) and full.startswith(turn[:end])):
            raise ChatError(
                "template-without-generation-markers",
                f"the template has no {{% generation %}} markers and renders turn {i} differently once later turns "
                "follow, so the assistant's tokens cannot be told apart; give a template with {% generation %} "
                "markers (--chat-template)",
            )
        out.spans.append((len(prompt), end))
    if marked and len(marks) != len(turns):
        out.spans = marks
    return out


def _fit_mark(
    full: str, mark: tuple[int, int], turn: str, prompt: str, ends: tuple[int, int] | None, out: Rendered
) -> tuple[int, int]:
    """A marked span made to end just after the turn's end-of-turn tokens."""
    start, end = mark
    if ends is None:
        return start, end
    eot = turn[len(prompt) + ends[0] : len(prompt) + ends[1]]
    at = full.rfind(eot, start, end)
    if at >= 0 and not full[at + len(eot) : end].strip():
        return start, at + len(eot)  # what follows the end-of-turn is never generated
    if full.startswith(eot, end):
        out.fixed.add("missing-eos")  # the markers leave the end-of-turn tokens untrained
        return start, end + len(eot)
    return start, end


def segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` cut into ``(piece, is_assistant)`` runs at the span edges; empty pieces left out."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(spans):
        start = max(start, at)
        if start > at:
            pieces.append((text[at:start], False))
        if end > start:
            pieces.append((text[start:end], True))
        at = max(at, end)
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces
