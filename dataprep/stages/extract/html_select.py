"""Fields pulled out of a page with CSS selectors (``--mode select``).

Each selector's matches are taken in document order; the k-th match of every field
makes up record k. Fields must match equally often, because a Q&A page where one
answer lacks the expected markup would otherwise pair every later question with the
wrong answer. A field that matches exactly once (a page title, a thread's tags) is
shared by every record of the page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import soupsieve
from bs4 import BeautifulSoup

from dataprep.stages.extract.html_text import visible_text

CONTENT_FIELDS = ("input", "output", "text")


def check_selector(css: str) -> None:
    """Raise ValueError with a plain sentence when ``css`` is not a valid CSS selector."""
    try:
        soupsieve.compile(css)
    except soupsieve.SelectorSyntaxError as exc:
        raise ValueError(f"{css!r} is not a valid CSS selector ({str(exc).splitlines()[0]})") from None


@dataclass
class SelectResult:
    """Records' fields (one dict per match index), or a page-level problem."""

    rows: list[dict[str, str]] = field(default_factory=list)
    reason: str | None = None
    detail: str | None = None


def select_fields(soup: BeautifulSoup, fields: Mapping[str, str]) -> SelectResult:
    """Match every field and pair the matches by position."""
    texts = {name: [visible_text(tag) for tag in soup.select(css)] for name, css in fields.items()}
    counts = {name: len(values) for name, values in texts.items()}
    content = {name: count for name, count in counts.items() if name in CONTENT_FIELDS}
    if not any(content.values()):
        return SelectResult(reason="no-match", detail=_describe(counts, fields))
    size = max(content.values())
    wrong = {name: count for name, count in counts.items() if count != size and (name in content or count != 1)}
    if wrong:
        return SelectResult(reason="unequal-matches", detail=_describe(counts, fields))
    rows = [{name: values[0] if len(values) == 1 else values[k] for name, values in texts.items()} for k in range(size)]
    return SelectResult(rows=rows)


def select_turns(soup: BeautifulSoup, css: str) -> list[str]:
    """The text of each turn of a thread, in document order."""
    return [visible_text(tag) for tag in soup.select(css)]


def assign_roles(turns: Sequence[str], roles: Sequence[str]) -> Iterator[dict[str, str]]:
    """Chat messages from turns, cycling through ``roles`` (user, assistant, user, ...)."""
    for k, text in enumerate(turns):
        yield {"role": roles[k % len(roles)], "content": text}


def _describe(counts: Mapping[str, int], fields: Mapping[str, str]) -> str:
    return ", ".join(f"{name} ({fields[name]!r}) matched {count}" for name, count in counts.items())
