"""What main mode removes from a page before trafilatura sees it.

trafilatura already drops hidden elements, but only when that costs little text (its
over-pruning guard puts them back otherwise), so a hidden schema.org block that repeats
the whole article, with its ISO dates, image URLs and keyword lists, ends up in the
text. Pages hide things a reader never sees for many reasons (microdata, pop-up cards
behind a name, off-canvas menus, screen-reader labels); none of it is main text.
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Attributes whose presence alone makes an element a candidate; tested by XPath, not per element in Python.
_CANDIDATES = XPath(".//*[@style or @hidden or @aria-hidden or @itemprop]")
# A microdata value, not prose: an ISO 8601 date or time, a URL, or a bare number.
_METADATA_VALUE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?|https?://\S+|\d+(?:\.\d+)?",
)


def _hidden(element: HtmlElement) -> bool:
    attrib = element.attrib
    if "hidden" in attrib or attrib.get("aria-hidden", "").strip().lower() == "true":
        return True
    style = attrib.get("style")
    return bool(style) and _HIDDEN_STYLE.search(style) is not None


def _metadata(element: HtmlElement) -> bool:
    if "itemprop" not in element.attrib or len(element):
        return False
    text = (element.text or "").strip()
    return bool(text) and _METADATA_VALUE.fullmatch(text) is not None


def prune_hidden(tree: HtmlElement) -> int:
    """Remove hidden elements and bare microdata values from ``tree`` in place; how many were removed."""
    doomed = []
    for element in _CANDIDATES(tree):
        if element.tag in ("html", "body"):
            continue
        if _hidden(element) or _metadata(element):
            doomed.append(element)
    return _drop_all(doomed)


def _kind(element: HtmlElement) -> tuple:
    return element.tag, element.get("class"), element.get("itemprop")


def _detach_keeping_tail(element: HtmlElement) -> None:
    """Take ``element`` out of its parent, leaving its tail text where it was."""
    tail, element.tail = element.tail, None
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent = element.getparent()
            parent.text = (parent.text or "") + tail
    element.getparent().remove(element)


def join_split_bodies(tree: HtmlElement) -> int:
    """Move the later blocks of an article body split around ads into its first block; how many moved.

    trafilatura takes the first element its first body expression matches (``itemprop=articleBody``,
    ``class=article-body``, ...) and nothing after it, so an article a site cuts into several such
    blocks with an ad slot between them loses every block after the first. Blocks count as parts of
    the same body when they have the first one's tag, class and itemprop and are its later siblings,
    or children of its parent's later siblings of the parent's own tag and class.
    """
    from trafilatura.xpaths import BODY_XPATH

    first = next(iter(BODY_XPATH[0](tree)), None)
    if first is None:
        return 0
    kind = _kind(first)
    parts = [sibling for sibling in first.itersiblings() if _kind(sibling) == kind]
    parent = first.getparent()
    if parent is not None and parent.get("class"):
        for uncle in parent.itersiblings():
            if (uncle.tag, uncle.get("class")) == (parent.tag, parent.get("class")):
                parts.extend(child for child in uncle if _kind(child) == kind)
    for part in parts:
        _detach_keeping_tail(part)
        first.append(part)
    return len(parts)


_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# The heading (h1-h6) inside an anchor: XPath's name() test runs in C, over every <a> at once.
_LINKED_CARDS = XPath(".//a[.//h1 or .//h2 or .//h3 or .//h4 or .//h5 or .//h6]")
_CAPITAL_WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _whole_link(paragraph: HtmlElement) -> str | None:
    """The paragraph's text when every word of it sits inside its links, else None."""
    links = list(paragraph.iter("a"))
    if not links:
        return None
    text = " ".join(paragraph.text_content().split())
    linked = " ".join("".join(link.text_content() for link in links).split())
    return text if text and text == linked else None


def prune_teasers(tree: HtmlElement) -> int:
    """Remove links to other stories from ``tree`` in place; how many were removed.

    Two shapes of teaser are not the article whatever page they sit on, and trafilatura keeps both
    when they stand inside the article body: a card, an anchor wrapping a heading (``<a><img>
    <h3>Other story</h3></a>``, where a heading of the article itself is never the whole of a link),
    and a paragraph that is one link written in capitals ("CO-FOUNDER 'PROUD' OF HOME DEPOT
    EMPLOYEES", the cross-link style of several news sites, where a sentence of the article is never
    in capitals and never all link).
    """
    doomed = list(_LINKED_CARDS(tree))
    for paragraph in tree.iter("p"):
        text = _whole_link(paragraph)
        if text is None:
            continue
        words = _CAPITAL_WORDS.findall(text)
        if len(words) >= 3 and all(word.isupper() for word in words):
            doomed.append(paragraph)
    removed = 0
    for element in doomed:
        if element.getparent() is not None and element.tag not in ("html", "body"):
            element.drop_tree()
            removed += 1
    return removed


# Embedded posts of social networks: the blockquote their script turns into a card, with the post's text.
_EMBEDDED_POSTS = XPath(
    ".//blockquote[contains(@class, 'twitter-tweet') or contains(@class, 'instagram-media')"
    " or contains(@class, 'tiktok-embed')]"
)
_WRAPPER_TAGS = frozenset(("div", "figure", "section", "aside", "span", "p"))
_NOT_CONTENT = frozenset(("script", "noscript", "style"))


def _only_child(parent: HtmlElement, child: HtmlElement) -> bool:
    if parent.text and parent.text.strip():
        return False
    for other in parent:
        if other is child:
            continue
        if not isinstance(other.tag, str) or other.tag in _NOT_CONTENT:
            if other.tail and other.tail.strip():
                return False
            continue
        return False
    return not (child.tail and child.tail.strip())


def lift_embedded_posts(tree: HtmlElement) -> int:
    """Free embedded tweets and Instagram posts from their wrappers; how many were lifted.

    A post a story quotes is part of the story (the reader sees it as a card in the text), but
    trafilatura drops it when a wrapper's class names it a widget or an embed
    (``sdc-article-widget``, ``embed-twitter``), and its readability fallback drops anything whose
    class says tweet or twitter. The blockquote replaces the wrappers that hold nothing else, and
    loses its class, so that both see a plain quotation.
    """
    lifted = 0
    for quote in _EMBEDDED_POSTS(tree):
        outer = quote
        parent = quote.getparent()
        while (
            parent is not None
            and parent.tag in _WRAPPER_TAGS
            and parent.getparent() is not None
            and _only_child(parent, outer)
        ):
            outer, parent = parent, parent.getparent()
        if outer is not quote:
            quote.tail = outer.tail
            outer.getparent().replace(outer, quote)
        quote.attrib.pop("class", None)
        lifted += 1
    return lifted


_WITH_CLASS = XPath(".//*[@class]")


def classed_elements(tree: HtmlElement) -> list[HtmlElement]:
    """Every element with a class attribute, for the passes below to share one XPath walk."""
    return _WITH_CLASS(tree)


def add_lowercase_classes(tree: HtmlElement, elements: list[HtmlElement] | None = None) -> int:
    """Give every class attribute with capitals a lower-case copy of itself; how many were changed.

    trafilatura's boilerplate vocabulary (``newsletter``, ``sidebar``, ``share-``, ``button``, ...) is
    matched case-sensitively, so ``Newsletter-description`` or ``ShareButtons`` escape it. The copy is
    appended, so the original names still match its camel-case body tokens (``postContent``,
    ``articleBody``) and its tokens anchored at the start of the attribute. ``elements``: those of
    :func:`classed_elements`, when the caller has them already.
    """
    changed = 0
    # A Python test per element: XPath's translate() on every class attribute costs five times more.
    for element in _WITH_CLASS(tree) if elements is None else elements:
        classes = element.get("class")
        lower = classes.lower()
        if lower != classes:
            element.set("class", f"{classes} {lower}")
            changed += 1
    return changed


# Pop-ups a script shows on hover or click, hidden by the site's CSS until then: tooltips, popovers,
# hover cards ("rollover-people-block": a name's card with links to other stories), modal pop-ups.
_POPUP_WORD = re.compile(r"tooltip|popover|popup|hover-?card|rollover")
# A whole class name, or a part of one between dashes or underscores ("c-social-buttons__popover",
# "tooltiptext"), not a word inside another ("js-image-popupgallery" is not one).
_POPUP_CLASS = re.compile(r"(?:^|[-_])(?:tooltip\w*|popover|popup|hover-?card|rollover)(?:$|[-_])", re.IGNORECASE)
_NEVER_POPUP = frozenset(("html", "body", "article", "main"))


def prune_popups(tree: HtmlElement, elements: list[HtmlElement] | None = None) -> int:
    """Remove tooltips, popovers, hover cards and pop-up boxes from ``tree`` in place; how many were removed.

    Their text is on the page but hidden by a stylesheet that main mode never reads, and trafilatura
    glues a hover card into the sentence around the name it belongs to ("Rep. Ilhan OmarIlhan
    OmarHillicon Valley: ..."). An element holding a paragraph is left alone: a pop-up is a few
    lines, and a page that names its article wrapper "popup" keeps its text. Of pop-ups inside one
    another, only the innermost goes: the outer one is the word or name that shows it. ``elements``:
    those of :func:`classed_elements`, when the caller has them already.
    """
    popups = []
    for element in _WITH_CLASS(tree) if elements is None else elements:
        classes = element.get("class").lower()
        if (
            _POPUP_WORD.search(classes)
            and element.tag not in _NEVER_POPUP
            and any(_POPUP_CLASS.search(name) for name in classes.split())
            and element.find(".//p") is None
        ):
            popups.append(element)
    # The innermost only: "rollover-people" wraps the name in the sentence and its card, the
    # "rollover-people-block"; a "tooltip-wrapper", the word and its "tooltiptext".
    outer = {ancestor for element in popups for ancestor in element.iterancestors()}
    doomed = [element for element in popups if element not in outer]
    return _drop_all(doomed)


def _drop_all(doomed: list) -> int:
    """Remove each element with its subtree; the number removed."""
    removed = 0
    for element in doomed:
        # A descendant of an element already removed has no parent chain to the root any more.
        if element.getparent() is not None:
            element.drop_tree()
            removed += 1
    return removed
