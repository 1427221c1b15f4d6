"""Which characters of a rendered conversation belong to the assistant.

Two ways, both giving the rendered text and the assistant's character spans:

- Templates with ``{% generation %}`` markers say it themselves; transformers'
  renderer reports the marked spans.
- Any other template is rendered incrementally: the assistant's turn ``i`` is what
  ``render(messages[:i + 1])`` adds after ``render(messages[:i], add_generation_prompt=True)``.
  That is exactly what a model generates at inference, end-of-turn token included.
  A template that rewrites earlier turns (so a prefix is not a prefix) is reported
  instead of guessed at.

The text is then cut at the span edges and each piece tokenized by itself, so every
token is wholly prompt or wholly assistant; none straddles the edge.
"""

from __future__ import annotations

import re
from typing import Any

GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


class ChatError(ValueError):
    """A conversation the template cannot render into prompt and assistant parts."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _render(template: str, messages: list[dict[str, Any]], specials: dict[str, Any], **kwargs: Any) -> Any:
    from jinja2 import TemplateError
    from transformers.utils.chat_template_utils import render_jinja_template

    try:
        return render_jinja_template(conversations=[messages], chat_template=template, **specials, **kwargs)
    except TemplateError as exc:
        raise ChatError("chat-template-error", f"the chat template rejects this conversation: {exc}") from exc


def assistant_spans(
    template: str, messages: list[dict[str, Any]], specials: dict[str, Any]
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the ``[start, end)`` character spans of the assistant's turns."""
    if not any(m.get("role") == "assistant" for m in messages):
        raise ChatError("no-assistant-turn", "the conversation has no assistant message to train on")
    if GENERATION_TAG.search(template):
        rendered, spans = _render(template, messages, specials, return_assistant_tokens_mask=True)
        return rendered[0], [tuple(span) for span in spans[0]]
    full = _render(template, messages, specials)[0][0]
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        prompt = _render(template, messages[:i], specials, add_generation_prompt=True)[0][0]
        turn = _render(template, messages[: i + 1], specials)[0][0]
        if not (turn.startswith(prompt) and full.startswith(turn)):
            raise ChatError(
                "chat-template-not-incremental",
                f"the template renders turn {i} differently once later turns follow, so the assistant's tokens "
                "cannot be told apart; give a template with {% generation %} markers (--chat-template)",
            )
        spans.append((len(prompt), len(turn)))
    return full, spans


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
