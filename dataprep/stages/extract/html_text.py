"""Visible text of a page or an element, with BeautifulSoup.

``get_text()`` joins every string in the tree: the contents of ``<script>``,
``<style>`` and ``<noscript>``, text hidden with ``display:none``, and words from
neighbouring blocks glued together (``</h1><p>`` gives ``TitleFirst``). This walk
skips what a reader never sees, turns block boundaries into line breaks (paragraph
blocks into a blank line), keeps ``<pre>`` verbatim and collapses all other
whitespace.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import RubyTextString

# Elements whose content is never shown as page text: metadata, code, embedded media and
# their fallback text, and form controls (button labels are interface, not content).
SKIP_TAGS = frozenset(
    "script style noscript template head title svg iframe object embed canvas select datalist audio video "
    "rp button input textarea".split()
)
# Separated from their neighbours by a blank line.
PARAGRAPH_TAGS = frozenset(
    "p h1 h2 h3 h4 h5 h6 blockquote pre table ul ol dl figure hr address article section aside".split()
)
# Separated from their neighbours by a line break.
LINE_TAGS = frozenset(
    "div main header footer nav li dt dd tr caption figcaption form fieldset legend details summary dialog "
    "menu dir center frameset frame noframes hgroup tbody thead tfoot body html option optgroup".split()
)
CELL_TAGS = frozenset(("td", "th"))
# Utility classes of common CSS frameworks (Bootstrap, Tailwind, WordPress) that hide an element.
HIDDEN_CLASSES = frozenset(
    "hidden d-none is-hidden visually-hidden sr-only screen-reader-text invisible hide u-hidden".split()
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SPACES = re.compile(r"[^\S\n]+")
_PRE_MARK = re.compile("\ue000(\\d+)\ue001")

LINE, PARAGRAPH = 1, 2
# A <br> adds a line break to any pending one (two in a row leave a blank line), where
# block boundaries merge into the strongest of them (nested </div></div> is one break).
BR = -1


class _PreEnd:
    """Marker pushed after a ``<pre>``'s children: its collected text is complete."""


_PRE_END = _PreEnd()


def is_hidden(tag: Tag) -> bool:
    """True for an element the page hides: hidden attribute, aria-hidden, inline CSS or a hiding class."""
    attrs = tag.attrs
    if not attrs:
        return False
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    style = attrs.get("style")
    if style and _HIDDEN_STYLE.search(style):
        return True
    if tag.name == "input" and str(attrs.get("type", "")).lower() == "hidden":
        return True
    classes = attrs.get("class")
    return bool(classes) and not HIDDEN_CLASSES.isdisjoint(classes)


def _visible_strings(root: Tag) -> list:
    """Strings, break levels (ints) and finished ``<pre>`` blocks, in document order."""
    pieces: list = []
    append = pieces.append
    pre_stack: list[list[str]] = []
    # An explicit stack, not recursion: real pages nest deeper than Python's recursion limit.
    stack: list = [root]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        kind = node.__class__
        # Plain strings and breaks are most nodes: test them first, by exact class.
        if kind is NavigableString or kind is RubyTextString:
            if pre_stack:
                pre_stack[-1].append(node)
            else:
                append(node)
        elif kind is int:
            append(node)
        elif kind is _PreEnd:
            append(("pre", "".join(pre_stack.pop())))
            append(PARAGRAPH)
        elif isinstance(node, Tag):
            name = node.name
            if name in SKIP_TAGS or (node.attrs and is_hidden(node)):
                continue
            if name == "br":
                if pre_stack:
                    pre_stack[-1].append("\n")
                else:
                    append(BR)
                continue
            if pre_stack:
                pass  # inside <pre> the source's own whitespace is the layout
            elif name == "pre":
                append(PARAGRAPH)
                pre_stack.append([])
                push(_PRE_END)
            elif name in PARAGRAPH_TAGS:
                append(PARAGRAPH)
                push(PARAGRAPH)
            elif name in LINE_TAGS:
                append(LINE)
                push(LINE)
            elif name in CELL_TAGS:
                append(" ")
            extend(reversed(node.contents))
        # Anything else is a comment, doctype, CDATA or the text of script/style/template.
    return pieces


def _collapse(text: str) -> str:
    """Runs of whitespace to one space, keeping one at either end if there was any."""
    words = text.split()
    if not words:
        return " " if text else ""
    joined = " ".join(words)
    if text[0].isspace():
        joined = " " + joined
    if text[-1].isspace():
        joined += " "
    return joined


def render(pieces: list) -> str:
    """Join pieces: collapse whitespace, merge adjacent breaks to the strongest, keep ``<pre>`` as is."""
    out: list[str] = []
    pres: list[str] = []
    pending = 0
    for piece in pieces:
        kind = piece.__class__
        if kind is int:
            pending = min(PARAGRAPH, pending + 1) if piece == BR else max(pending, piece)
            continue
        if kind is tuple:
            text = piece[1].strip("\n")
            if not text.strip():
                continue
            pres.append(text)
            text = f"\ue000{len(pres) - 1}\ue001"
        else:
            text = _collapse(piece)
            if text == " " and (pending or not out):
                continue
        if pending and out:
            out.append("\n\n" if pending == PARAGRAPH else "\n")
        pending = 0
        out.append(text)
    lines: list[str] = []
    blank = False
    for line in "".join(out).split("\n"):
        if "  " in line:
            line = _SPACES.sub(" ", line)
        line = line.strip()
        if not line:
            blank = bool(lines)
            continue
        if blank:
            lines.append("")
            blank = False
        lines.append(line)
    text = "\n".join(lines)
    if pres:
        text = _PRE_MARK.sub(lambda m: pres[int(m.group(1))], text)
    return text


def visible_text(root: Tag) -> str:
    """The text a reader sees in ``root``: see the module docstring."""
    return render(_visible_strings(root))


def parse(html: str) -> BeautifulSoup:
    """Parse with lxml, BeautifulSoup's fastest tree builder."""
    return BeautifulSoup(html, "lxml")


def page_text(html: str) -> str:
    """Visible text of a whole page (``--mode text``)."""
    return visible_text(parse(html))
