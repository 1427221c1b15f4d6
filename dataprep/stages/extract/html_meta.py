"""Page metadata for ``meta``: title, url (canonical, else og:url) and lang."""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring

_SPACES = re.compile(r"\s+")
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
# Bytes with a declared encoding, because lxml refuses a str that starts with <?xml encoding=...?>.
_PARSER = HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = _SPACES.sub(" ", value).strip()
    return value or None


def _meta_content(tree: HtmlElement, attribute: str, value: str) -> str | None:
    for element in tree.iter("meta"):
        if (element.get(attribute) or "").strip().lower() == value:
            found = _clean(element.get("content"))
            if found:
                return found
    return None


def page_title(tree: HtmlElement) -> str | None:
    for element in tree.iter("title"):
        # An inline <svg><title> in the body is a tooltip, not the page title.
        if element.getparent() is not None and element.getparent().tag == "head":
            title = _clean(element.text_content())
            if title:
                return title
    return _meta_content(tree, "property", "og:title")


def page_url(tree: HtmlElement) -> str | None:
    for element in tree.iter("link"):
        if "canonical" in (element.get("rel") or "").lower().split():
            href = _clean(element.get("href"))
            if href:
                return href
    return _meta_content(tree, "property", "og:url")


def page_lang(tree: HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    lang = _clean(root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang") or root.get("xml:lang"))
    if not lang:
        lang = _meta_content(tree, "http-equiv", "content-language") or _meta_content(tree, "property", "og:locale")
    return lang.replace("_", "-") if lang else None


def page_meta(tree: HtmlElement | None) -> dict[str, str]:
    """The title, url and lang a page declares; keys with no value are left out."""
    if tree is None:
        return {}
    found = {"title": page_title(tree), "url": page_url(tree), "lang": page_lang(tree)}
    return {key: value for key, value in found.items() if value}


def head_tree(html: str) -> HtmlElement | None:
    """A parse of the page up to ``</head>``: all the metadata needs, at a fraction of a full parse."""
    end = _HEAD_END.search(html)
    head = html[: end.end()] if end else html
    try:
        return document_fromstring(head.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None
