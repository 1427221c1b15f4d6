"""Page metadata for ``meta``: title, url (canonical, else og:url) and lang."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

_SPACES = re.compile(r"\s+")


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
