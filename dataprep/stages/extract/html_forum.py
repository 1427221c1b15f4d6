"""Forum threads in main mode: the text of every post, not just the first.

On a thread page each post is its own ``<article>`` or ``<div>`` of the same shape,
and trafilatura, built for articles, usually picks the first one and drops the rest
(or keeps them with the poster's name, rank and join date between them). When a page
holds two or more post bodies of a known forum engine, or of schema.org forum
markup, main mode takes their visible text instead, in page order.
"""

from __future__ import annotations

from lxml.etree import XPath
from lxml.html import HtmlElement, tostring

from dataprep.stages.extract.html_text import parse, visible_text


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


# (engine, XPath of one post's body, a string the raw page must contain for the XPath to run).
POST_BODIES = (
    ("schema.org", "//*[contains(@itemtype, 'DiscussionForumPosting')]//*[@itemprop='text']", "DiscussionForumPosting"),
    ("Discourse", f"//*[{_has_class('crawler-post')}]//*[@itemprop='text']", "crawler-post"),
    ("Discourse", f"//*[{_has_class('topic-post')}]//*[{_has_class('cooked')}]", "topic-post"),
    ("XenForo", f"//*[{_has_class('message-body')}]//*[{_has_class('bbWrapper')}]", "bbWrapper"),
    ("phpBB", f"//*[{_has_class('postbody')}]//*[{_has_class('content')}]", "postbody"),
    ("vBulletin", "//*[starts-with(@id, 'post_message_')]", "post_message_"),
    ("vBulletin", f"//*[{_has_class('postcontent')}]", "postcontent"),
    ("MyBB", f"//*[{_has_class('post_body')}]", "post_body"),
    ("SMF", f"//div[{_has_class('inner')}][starts-with(@id, 'msg_')]", "msg_"),
    ("Invision", "//*[@data-role='commentContent']", "commentContent"),
)
_COMPILED = [(engine, XPath(path), marker) for engine, path, marker in POST_BODIES]
MIN_POSTS = 2


def _outermost(elements: list[HtmlElement]) -> list[HtmlElement]:
    """Drop matches nested in another match (a quoted post inside a reply)."""
    chosen = set(elements)
    return [el for el in elements if not any(parent in chosen for parent in el.iterancestors())]


#: The attribute that marks each post's wrapper when a thread's posts are parsed together.
_WRAPPER = "data-dataprep-post"


def post_text(element: HtmlElement) -> str:
    """Visible text of one post, with the same rules as text mode."""
    return visible_text(parse(tostring(element, encoding="unicode", with_tail=False)))


def post_texts(elements: list[HtmlElement]) -> list[str]:
    """:func:`post_text` of each post, from one parse of all of them: each post's markup in a
    wrapper ``<div>``, so a thread of forty posts costs one BeautifulSoup tree, not forty.

    Should the wrappers not come back one per post, side by side (markup that a parse moves
    about), each post is parsed alone instead."""
    wrapped = "".join(
        f'<div {_WRAPPER}="">{tostring(el, encoding="unicode", with_tail=False)}</div>' for el in elements
    )
    body = parse(wrapped).body
    found = body.find_all(attrs={_WRAPPER: True}) if body is not None else []
    if len(found) != len(elements) or any(tag.parent is not body for tag in found):
        return [post_text(el) for el in elements]
    return [visible_text(tag) for tag in found]


def forum_posts(html: str, tree: HtmlElement | None) -> tuple[str, list[str]] | None:
    """The engine and the text of each post, or None when the page is not a thread of a known engine."""
    if tree is None:
        return None
    for engine, xpath, marker in _COMPILED:
        # The substring test keeps the XPath off the many pages that are not threads.
        if marker not in html:
            continue
        elements = _outermost(xpath(tree))
        if len(elements) >= MIN_POSTS:
            posts = [text for text in post_texts(elements) if text]
            if len(posts) >= MIN_POSTS:
                return engine, posts
    return None
