"""Identifiers as dumps write them: `name`, "name", [name], schema.name."""

from __future__ import annotations

import re

IDENT = r"(?:`(?:[^`]|``)+`|\"(?:[^\"]|\"\")+\"|\[(?:[^\]]|\]\])+\]|[A-Za-z_\x80-\uffff][\w$\x80-\uffff]*)"
QUALIFIED = rf"{IDENT}(?:\s*\.\s*{IDENT})*"
_IDENT = re.compile(IDENT)
_SURROGATE = re.compile("[\udc80-\udcff]")


def legacy_text(text: str) -> str:
    """Text whose non-UTF-8 bytes a line held as surrogates, as Windows-1252 (Latin-1 for its
    five undefined bytes): names from such lines must be writable to stats.json."""
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def unquote(name: str) -> str:
    """``name`` without its quotes, doubled quotes undone: `a``b` is a`b, [a]]b] is a]b."""
    if not name.isascii() and _SURROGATE.search(name):
        name = legacy_text(name)
    if len(name) >= 2:
        first, last = name[0], name[-1]
        if first == last and first in '`"':
            return name[1:-1].replace(first * 2, first)
        if first == "[" and last == "]":
            return name[1:-1].replace("]]", "]")
    return name


def qualified_name(text: str) -> str:
    """``[dbo].[Posts]`` -> ``dbo.Posts``; ```film``` -> ``film``."""
    return ".".join(unquote(part) for part in _IDENT.findall(text))


def name_list(text: str) -> tuple[str, ...]:
    """The names in a column list such as ```id`, `title``` or ``[Id], [Body]``."""
    return tuple(unquote(part) for part in _IDENT.findall(text))
