"""What main mode drops from trafilatura's output, block by block.

trafilatura keeps three kinds of block that are not the article: the headline (already
in ``meta.title``), calls to action placed inside the article body (subscribe to the
newsletter, get the app, tell us what you think) and cross-links to other posts
("Read more: ...", "Don't miss", "You may also like", with the teaser titles under
them). Each is recognised by its wording, in English, German, French, Spanish and
Italian, and only in short blocks, so a paragraph that merely mentions a newsletter
stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.html import HtmlElement

# A block this long is prose, whatever words it contains.
MAX_CHROME_WORDS = 30

# Calls to action: subscribing, signing up, apps, feedback prompts, sharing.
_CALL_TO_ACTION = re.compile(
    r"""
    \b(?:unsubscribe|tell\s+us\s+what\s+you\s+think|let\s+us\s+know\s+what\s+you\s+think
    |click\s+here|get\s+the\s+\w+(?:\s+\w+)?\s+app|download\s+(?:the|our)\s+(?:\w+\s+){0,2}apps?|follow\s+us\s+on
    |follow\s+.{1,60}?\s+on\s+(?:facebook|twitter|instagram|youtube|linkedin)
    |(?:like|love)\s+to\s+hear\s+(?:what\s+you\s+think|from\s+you)|if\s+you\s+enjoyed\s+this\s+(?:article|story|post)
    |contributed\s+to\s+this\s+(?:report|story|article)|contributed\s+reporting|additional\s+reporting\s+(?:by|from)
    |(?:reading\s+time|lesezeit|temps\s+de\s+lecture|tiempo\s+de\s+lectura|tempo\s+de\s+leitura)\s*:?\s*\d+
    |\d+\s+min(?:ute)?s?\s+read
    |share\s+this\s+(?:article|story|post)|thanks\s+for\s+signing\s+up|error\s+processing\s+your\s+subscription
    |jetzt\s+anmelden|newsletter\s+(?:anmelden|bestellen|abonnieren)|teilen\s+sie\s+diesen
    |inscription\s+(?:[àa]\s+la\s+)?newsletter|newsletter\s+gratuite|pour\s+lire\s+la\s+suite|pour\s+acc[ée]der\s+en\s+illimit[ée]
    |abonnez-vous|inscrivez-vous|iscriviti|abbonati)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Words that are a call to action only when the block addresses the reader ("our newsletter",
# "your inbox") or gives an order (below): "Subscribers rose by a tenth" is news.
_ADDRESSED_NOUN = re.compile(
    r"\b(?:newsletter|inbox|e-?mail\s+alerts?|posteingang|subscrib\w*|sign(?:ing)?\s+up|abonnier\w*|abonnez\w*"
    r"|suscr[ií]b\w*|suscripci[oó]n)\b",
    re.IGNORECASE,
)
_READER = re.compile(
    r"\b(?:you|your|our|us|sie|ihr|ihren|unser\w*|vous|votre|notre|nos|tu|tus|nuestr[oa]s?)\b", re.IGNORECASE
)
# The same words as an order: "Subscribe now", "Sign up", "RSS-Feed abonnieren" (German puts it last).
_IMPERATIVE = re.compile(
    r"(?:subscribe|sign\s+up|abonnieren|abonnez|suscr[ií]bete|suscr[ií]base)\b|.*\babonnieren[\s.!]*$",
    re.IGNORECASE | re.DOTALL,
)
# The heading of a sign-up box: "Pick Six Newsletter", "Der Morgen-Newsletter".
_NEWSLETTER_BOX = re.compile(r"(?:\S+\s+){0,4}\S*newsletter[s]?[\s.!:]*$", re.IGNORECASE)
# A block that is only a label introducing links to other posts, or starts with one.
_CROSS_LINK_LABEL = re.compile(
    r"""
    (?:read\s+more|see\s+more|see\s+also|related(?:\s+(?:articles?|stor(?:y|ies)|posts?|coverage|content|reading))?
    |more|also|explore\s+further|most\s+read\s+in\s+[\w\s]{1,40}
    |filed\s+under|don'?t\s+miss|you\s+(?:may|might)\s+also\s+like|recommended(?:\s+for\s+you)?|also\s+read|further\s+reading
    |popular\s+(?:now|stories|posts)|most\s+(?:read|popular)|trending(?:\s+now)?
    |lesen\s+sie\s+(?:auch|mehr)|mehr\s+zum\s+thema(?:\s+auf\s+\S+)?|weitere\s+(?:artikel|beitr[äa]ge)\b[^:]{0,40}
    |(?:das\s+)?(?:thema\s+)?k[öo]nnte\s+(?:sie|dich|euch)\s+auch\s+interessieren
    |(?:[àa]\s+)?lire\s+aussi|voir\s+aussi|sur\s+le\s+m[êe]me\s+sujet
    |le[ea]\s+(?:tambi[ée]n|m[áa]s)|(?:te|le)\s+puede\s+interesar|noticias\s+relacionadas|leggi\s+anche)
    # alone on its line, or followed by a colon (or dash) and the linked title
    (?:[\s.…!:]*$|\s*(?:\(?su\)?)?\s*[:|–—-]\s*\S.*$)
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_WORD = re.compile(r"\w+")
# Labels over a list of several teasers (where "Read more" or "See also" introduce one link).
_LIST_LABEL = re.compile(
    r"""(?:don'?t\s+miss|you\s+(?:may|might)\s+also\s+like|recommended(?:\s+for\s+you)?|related\s+\w+
    |popular\s+\w+|most\s+(?:read|popular)(?:\s+in\s+[\w\s]{1,40})?|more|trending(?:\s+now)?|weitere\s+artikel
    |(?:das\s+)?(?:thema\s+)?k[öo]nnte\s+(?:sie|dich|euch)\s+auch\s+interessieren|sur\s+le\s+m[êe]me\s+sujet
    |(?:te|le)\s+puede\s+interesar
    |noticias\s+relacionadas)[\s.…!:]*$""",
    re.IGNORECASE | re.VERBOSE,
)
MAX_TEASER_WORDS = 16


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def page_titles(tree: HtmlElement) -> set[str]:
    """The page's headline as its ``<title>``, ``og:title`` and ``<h1>`` elements give it, normalised."""
    titles = {_normal(h1.text_content()) for h1 in tree.iter("h1")}
    titles.update(_normal(meta.get("content", "")) for meta in tree.iterfind(".//meta[@property='og:title']"))
    title = tree.findtext(".//title")
    if title:
        titles.add(_normal(title))
    titles.discard("")
    return titles


def page_urls(tree: HtmlElement) -> set[str]:
    """The addresses the page gives itself (canonical link, ``og:url``), without scheme or trailing slash."""
    urls = {link.get("href", "") for link in tree.iterfind(".//link[@rel='canonical']")}
    urls.update(meta.get("content", "") for meta in tree.iterfind(".//meta[@property='og:url']"))
    return {_bare_url(url) for url in urls if url.strip()}


def _bare_url(url: str) -> str:
    return url.strip().split("://", 1)[-1].rstrip("/").casefold()


def is_own_url(text: str, urls: set[str]) -> bool:
    """True when ``text`` is only the page's own address, which share boxes print and no article does."""
    text = text.strip()
    return bool(urls) and " " not in text and "://" in text and _bare_url(text) in urls


def is_headline(text: str, titles: set[str]) -> bool:
    """True when ``text`` is the page's headline: an ``<h1>``/``og:title``, or the start of a ``<title>``."""
    text = _normal(text)
    if not text or len(text) > 300:
        return False
    # "<title>Headline | Site name</title>": the headline is the title's beginning.
    return any(text == title or (len(text) >= 15 and title.startswith(text)) for title in titles)


def is_chrome(text: str) -> bool:
    """True for a short block that is a call to action or a label over links to other posts."""
    if len(_WORD.findall(text)) > MAX_CHROME_WORDS:
        return False
    if _CROSS_LINK_LABEL.match(text.strip().strip("()[]")):
        return True
    if _CALL_TO_ACTION.search(text) is not None:
        return True
    if _NEWSLETTER_BOX.match(text.strip()):
        return True
    if _IMPERATIVE.match(text.strip()):
        return True
    return _ADDRESSED_NOUN.search(text) is not None and _READER.search(text) is not None


def keep_blocks(blocks: Iterable[str], titles: set[str], urls: set[str] = frozenset()) -> list[str]:
    """The blocks that are article text: no headline first (pass no ``titles`` to keep it), no calls to
    action, no cross-link labels, no teaser titles under a list label and not the page's own address
    (one of ``urls``, as :func:`page_urls` gives them)."""
    kept: list[str] = []
    teasers = False
    for block in blocks:
        # Under a label standing alone ("Don't miss", "You may also like"), the teaser titles
        # follow: short lines, not sentences. The first block that is a sentence ends them.
        if teasers and _is_teaser_title(block):
            continue
        teasers = False
        if is_own_url(block, urls):
            continue
        if not kept and is_headline(block, titles):
            continue
        if _labelled_teasers(block):
            continue
        if is_chrome(block):
            teasers = _LIST_LABEL.match(block.strip()) is not None or (
                not _CROSS_LINK_LABEL.match(block.strip()) and ":" not in block
            )
            continue
        kept.append(block)
    return kept


def _labelled_teasers(text: str) -> bool:
    # The label and its teaser titles in one block, one per line ("DON'T MISS<br>Title [NEWS]<br>...").
    label, _, rest = text.strip().partition("\n")
    return bool(rest) and _LIST_LABEL.match(label.strip()) is not None and _is_teaser_title(rest)


def _is_teaser_title(text: str) -> bool:
    # One title per block, or a few under one another (a list rendered as lines).
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return 0 < len(lines) <= 10 and all(
        len(_WORD.findall(line)) <= MAX_TEASER_WORDS and not line.endswith(".") for line in lines
    )
