"""Forum threads in main mode: the text of every post, not just the first.

On a thread page each post is its own ``<article>`` or ``<div>`` of the same shape,
and trafilatura, built for articles, usually picks the first one and drops the rest
(or keeps them with the poster's name, rank and join date between them). When a page
holds two or more post bodies of a known forum engine, or of schema.org forum
markup, main mode takes their visible text instead, in page order.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from dataprep.stages.extract.html_text import visible_text

# (engine, CSS selector of one post's body, a string the raw page must contain first).
# The string check keeps the BeautifulSoup parse off the many pages that are not threads.
POST_BODIES = (
    ("schema.org", "[itemtype*=DiscussionForumPosting] [itemprop=text]", "DiscussionForumPosting"),
    ("Discourse", ".crawler-post [itemprop=text]", "crawler-post"),
    ("Discourse", ".topic-post .cooked", "topic-post"),
    ("XenForo", ".message-body .bbWrapper", "bbWrapper"),
    ("phpBB", ".postbody .content", "postbody"),
    ("vBulletin", "[id^=post_message_]", "post_message_"),
    ("vBulletin", ".postcontent", "postcontent"),
    ("MyBB", ".post_body", "post_body"),
    ("SMF", "div.inner[id^=msg_]", "msg_"),
    ("Invision", "[data-role=commentContent]", "commentContent"),
)
MIN_POSTS = 2


def _outermost(tags: list[Tag]) -> list[Tag]:
    """Drop matches nested in another match (a quoted post inside a reply)."""
    chosen = {id(tag) for tag in tags}
    return [tag for tag in tags if not any(id(parent) in chosen for parent in tag.parents)]


def forum_posts(html: str, soup: BeautifulSoup | None = None) -> tuple[str, list[str]] | None:
    """The engine and the text of each post, or None when the page is not a thread of a known engine."""
    candidates = [(engine, css) for engine, css, marker in POST_BODIES if marker in html]
    if not candidates:
        return None
    soup = soup or BeautifulSoup(html, "lxml")
    for engine, css in candidates:
        tags = _outermost(soup.select(css))
        if len(tags) >= MIN_POSTS:
            posts = [text for text in (visible_text(tag) for tag in tags) if text]
            if len(posts) >= MIN_POSTS:
                return engine, posts
    return None
