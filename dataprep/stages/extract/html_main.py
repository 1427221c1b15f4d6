"""Main content of a page (``--mode main``): trafilatura, with a fallback when it finds too little.

Thread pages of known forum engines are taken post by post (see :mod:`html_forum`).
Everything else goes to trafilatura, which already runs its own cascade (its main
extractor, a comparison with its readability and jusText ports, a baseline rescue and
a recall retry). What it cannot do is return text for a page where every one of those
finds nothing, which happens on pages with little prose in ``<p>`` tags (content in
``<div>`` s with ``<br>`` s, in table cells, or a ``<main>`` full of short blocks). For
those, the fallback is the visible text of the page's one ``<main>`` (or ``role=main``,
or single ``<article>``) element, or of the whole page when trafilatura returned
nothing at all.

Around trafilatura, main mode first removes what a reader never sees, rejoins an
article body split around ads, removes teaser cards and capital cross-links, frees
embedded tweets from their widget wrappers and gives mixed-case class names a lower-case
copy for trafilatura's case-sensitive boilerplate tokens, and removes tooltips, popovers
and hover cards (:mod:`html_prune`), then drops the headline, calls to
action and cross-links to other posts from its output (:mod:`html_blocks`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trafilatura
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.xml import xmltotxt

from dataprep.stages.extract.html_blocks import keep_blocks, page_titles, page_urls
from dataprep.stages.extract.html_forum import forum_posts
from dataprep.stages.extract.html_prune import (
    add_lowercase_classes,
    classed_elements,
    join_split_bodies,
    lift_embedded_posts,
    prune_hidden,
    prune_popups,
    prune_teasers,
)
from dataprep.stages.extract.html_text import parse, visible_text

# Each page trafilatura gives up on is already counted and written to rejects.jsonl
# with its reason; its own log line per page would only flood the terminal.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

LANDMARK_SELECTORS = ("main, [role=main]", "article")

# Per-post chrome of common forum software, which trafilatura keeps as if it were text:
# user panels (name, rank, post count, join date), signatures and forum-wide boxes.
# phpBB: postprofile, signature, jumpbox, online-list; vBulletin: userinfo, signaturecontainer;
# XenForo: message-userDetails, message-signature; SMF: poster; MyBB: post_author;
# Invision: cAuthorPane; Discourse: topic-meta-data, post-menu-area. Matched as whole
# class tokens, so that "posterframe" or "author-signature-dish" stay untouched.
FORUM_CHROME_CLASSES = frozenset(
    "postprofile signature jumpbox online-list userinfo signaturecontainer message-userDetails "
    "message-signature poster post_author cAuthorPane topic-meta-data post-menu-area".split()
)
_WITH_CLASS = XPath(".//*[@class]")


def prune_forum_chrome(tree: HtmlElement) -> None:
    """Remove forum chrome from ``tree`` in place, keeping the text that follows each element."""
    # A set test per element: an XPath testing each class token costs as much as trafilatura itself.
    for element in [el for el in _WITH_CLASS(tree) if not FORUM_CHROME_CLASSES.isdisjoint(el.get("class").split())]:
        element.drop_tree()


@dataclass(frozen=True)
class MainOptions:
    favor: str = "balanced"
    fast: bool = False
    include_tables: bool = True
    include_comments: bool = False
    min_chars: int = 250
    forum_threads: bool = True
    keep_headline: bool = False


def _blocks(body: HtmlElement | None) -> list[str]:
    if body is None:
        return []
    blocks = [body.text.strip()] if body.text and body.text.strip() else []
    # One top-level element of trafilatura's output is one paragraph, heading, list, table
    # or quote: rendering them one by one keeps paragraph breaks as blank lines, where its
    # plain-text output separates paragraphs and <br> line breaks alike with one newline.
    for child in body:
        text = xmltotxt(child, False).strip()
        if text:
            blocks.append(text)
    return blocks


def trafilatura_text(tree: HtmlElement, options: MainOptions) -> str:
    """trafilatura's main text of a parsed page, paragraphs separated by blank lines."""
    titles = set() if options.keep_headline else page_titles(tree)
    urls = page_urls(tree)
    document = trafilatura.bare_extraction(
        tree,
        output_format="python",
        fast=options.fast,
        favor_precision=options.favor == "precision",
        favor_recall=options.favor == "recall",
        include_comments=options.include_comments,
        include_tables=options.include_tables,
        with_metadata=False,
    )
    if document is None:
        return ""
    blocks = _blocks(document.body)
    blocks = keep_blocks(blocks, titles, urls)
    if options.include_comments:
        blocks += _blocks(document.commentsbody)
    return "\n\n".join(blocks)


def landmark_text(html: str) -> tuple[str, bool]:
    """Visible text of the page's single main landmark (True), else of the whole page (False)."""
    soup = parse(html)
    for selector in LANDMARK_SELECTORS:
        found = soup.select(selector)
        if len(found) == 1:
            return visible_text(found[0]), True
        if found:
            break
    return visible_text(soup), False


def main_text(html: str, tree: HtmlElement | None, options: MainOptions) -> tuple[str, str]:
    """The page's main text and which extractor produced it; ``tree`` is pruned on the way.

    The extractor is ``forum`` (every post of a thread, see :mod:`html_forum`),
    ``trafilatura``, ``landmark`` (the fallback took the text of the page's
    ``<main>``/``<article>``) or ``page`` (the fallback took the whole page's visible
    text, only when trafilatura found nothing).
    """
    if options.forum_threads:
        thread = forum_posts(html, tree)
        if thread is not None:
            return "\n\n".join(thread[1]), "forum"
    text = ""
    if tree is not None:
        prune_forum_chrome(tree)
        prune_hidden(tree)
        join_split_bodies(tree)
        prune_teasers(tree)
        lift_embedded_posts(tree)
        classed = classed_elements(tree)
        add_lowercase_classes(tree, classed)
        prune_popups(tree, classed)
        text = trafilatura_text(tree, options)
    if len(text) >= options.min_chars:
        return text, "trafilatura"
    fallback, is_landmark = landmark_text(html)
    if not text:
        return fallback, "landmark" if is_landmark else "page"
    # A short result next to a landmark holding at least twice as much text means
    # trafilatura missed the body; a short result without one is usually a short page.
    if is_landmark and len(fallback) >= 2 * len(text):
        return fallback, "landmark"
    return text, "trafilatura"
