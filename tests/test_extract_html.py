import gzip
import json

import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes

from dataprep.errors import InputError
from dataprep.stages.extract.html import ExtractHtml, ExtractHtmlConfig
from dataprep.stages.extract.html_input import decode_html

ARTICLE = """<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Fixing a dripping tap | Home Repair Weekly</title>
<link rel="canonical" href="https://homerepair.example/taps/dripping-tap">
<script>var tracking = "SCRIPT-TEXT";</script><style>body { color: red }</style></head>
<body>
<div id="cookie-consent" class="cookie-banner"><p>We use cookies to improve your experience and to show you
personalised ads. By continuing to browse you agree to our use of cookies.</p><button>Accept all</button></div>
<header><a href="/">Home Repair Weekly</a><nav><ul><li><a href="/plumbing">Plumbing</a></li>
<li><a href="/electrics">Electrics</a></li><li><a href="/garden">Garden</a></li></ul></nav></header>
<main><article><h1>Fixing a dripping tap</h1><p class="byline">By Sam Reed</p>
<p>A dripping tap wastes thousands of litres of water a year, and in most cases the fix takes twenty minutes
and a washer that costs less than a pound. You need an adjustable spanner, a flat screwdriver and a new washer.</p>
<p>Turn off the water supply under the sink, then open the tap to drain what is left in the pipe. Prise off the
decorative cap, undo the retaining screw and lift the handle away from the body of the tap.</p>
<p>Unscrew the headgear with the spanner, pull out the old washer and press the new one into place. Put everything
back in the reverse order and turn the water on slowly, checking the joint for leaks as the pressure builds.</p>
</article>
<section class="comments"><h2>Comments</h2><div class="comment"><p>COMMENT-TEXT great tip thanks</p></div></section>
</main>
<footer><p>FOOTER-TEXT Copyright 2024 Home Repair Weekly. All rights reserved.</p></footer>
</body></html>
"""


def extract(paths, out, **options):
    paths = paths if isinstance(paths, list) else [paths]
    return ExtractHtml(ExtractHtmlConfig(**options)).run(paths, out)


def texts(out):
    return [r["text"] for r in read_records(out)]


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


# ---- main mode ----------------------------------------------------------------------


def test_main_mode_keeps_the_article_and_drops_boilerplate(tmp_path, write_bytes):
    path = write_bytes("tap.html", ARTICLE.encode())
    extract(path, tmp_path / "o")
    [record] = read_records(tmp_path / "o")
    text = record["text"]
    assert "A dripping tap wastes thousands of litres" in text
    assert "checking the joint for leaks as the pressure builds." in text
    for junk in ("SCRIPT-TEXT", "cookies", "Plumbing", "COMMENT-TEXT", "FOOTER-TEXT", "color: red"):
        assert junk not in text
    assert record["source"] == str(path)
    assert record["meta"] == {
        "title": "Fixing a dripping tap | Home Repair Weekly",
        "url": "https://homerepair.example/taps/dripping-tap",
        "lang": "en-GB",
        "extractor": "trafilatura",
    }


def test_main_mode_paragraph_breaks_are_blank_lines(tmp_path, write_bytes):
    path = write_bytes("tap.html", ARTICLE.encode())
    extract(path, tmp_path / "o")
    paragraphs = read_records(tmp_path / "o")[0]["text"].split("\n\n")
    assert any(p.startswith("Turn off the water supply") for p in paragraphs)
    assert any(p.startswith("Unscrew the headgear") for p in paragraphs)


def test_main_mode_include_comments_option(tmp_path, write_bytes):
    body = ARTICLE.replace("COMMENT-TEXT great tip thanks", "COMMENT-TEXT " + "I fixed mine in ten minutes. " * 5)
    path = write_bytes("tap.html", body.encode())
    extract(path, tmp_path / "o", include_comments=True)
    assert "COMMENT-TEXT" in texts(tmp_path / "o")[0]


def test_main_mode_falls_back_to_visible_text_when_trafilatura_finds_nothing(tmp_path, write_bytes):
    path = write_bytes("fragment.html", b"<p>Opening hours: nine to five.</p>")
    extract(path, tmp_path / "o")
    [record] = read_records(tmp_path / "o")
    assert record["text"] == "Opening hours: nine to five."
    assert record["meta"]["extractor"] == "page"
    assert read_stats(tmp_path / "o")["extra"]["extractors"] == {"page": 1}


@pytest.mark.parametrize(
    ("body", "extractor", "expected"),
    [
        # trafilatura's short result next to a <main> with far more text: it missed the body.
        ("<nav><a href='/'>Home</a></nav><main>{rows}</main><footer>Shop Ltd</footer>", "landmark", "rows"),
        # No landmark: a short result is kept (a short page, not a missed body).
        ("<nav><a href='/'>Home</a></nav><div>{rows}</div><footer>Shop Ltd</footer>", "trafilatura", "short"),
        # Two <article>s: no single landmark to trust.
        ("<article>{rows}</article><article>{rows}</article>", "trafilatura", "short"),
    ],
)
def test_short_trafilatura_result_falls_back_to_a_single_main_landmark(
    tmp_path, write_bytes, monkeypatch, body, extractor, expected
):
    from dataprep.stages.extract import html_main

    monkeypatch.setattr(html_main, "trafilatura_text", lambda tree, options: "Shelf 0.")
    rows = "".join(f"<div>Shelf {i}: tins, jars and dry goods stacked by date</div>" for i in range(12))
    path = write_bytes("pantry.html", page(body.format(rows=rows)).encode())
    extract(path, tmp_path / "o")
    [record] = read_records(tmp_path / "o")
    assert record["meta"]["extractor"] == extractor
    if expected == "rows":
        assert record["text"].splitlines()[0] == "Shelf 0: tins, jars and dry goods stacked by date"
        assert len(record["text"].splitlines()) == 12 and "Home" not in record["text"]
    else:
        assert record["text"] == "Shelf 0."


# ---- main mode: what goes before and after trafilatura ---------------------------------

STORY = [
    "The harbour authority approved the new ferry timetable on Tuesday after a year of complaints from island "
    "residents about cancelled crossings, missed hospital appointments and children arriving late for school.",
    "Under the plan, the first boat leaves at six in the morning instead of half past seven, and two extra "
    "crossings run on Friday and Sunday evenings, when demand from weekend visitors is at its highest.",
    "The operator said the change needs one more crew and a second mooring on the mainland side, both of which "
    "should be in place by the spring, and that fares will stay at this year's level until at least June.",
    "Residents' groups welcomed the decision but said they would keep counting cancellations, and asked the "
    "authority to publish monthly figures so that the promise of a more reliable service can be checked.",
]


def story_page(body: str, title: str = "Ferry timetable approved | Island News") -> str:
    head = f"<meta charset='utf-8'><title>{title}</title>"
    nav = "<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
    return page(f"{nav}<main><article>{body}</article></main><footer>Island News Ltd</footer>", head)


def paragraphs(texts) -> str:
    return "".join(f"<p>{text}</p>" for text in texts)


def main_text_of(tmp_path, write_bytes, html: str, **options) -> str:
    path = write_bytes("story.html", html.encode())
    extract(path, tmp_path / "o", **options)
    [record] = read_records(tmp_path / "o")
    return record["text"]


def test_main_mode_drops_a_hidden_schema_org_copy_of_the_article(tmp_path, write_bytes):
    # A display:none microdata block repeating the article with its dates, image URL and keywords,
    # ahead of the visible story: trafilatura takes its itemprop=articleBody first.
    hidden = (
        "<div style='display:none;' itemscope itemtype='http://schema.org/NewsArticle'>"
        "<div itemprop='articleBody'><div itemprop='keywords'>ferry,timetable,island</div>"
        "<div itemprop='datePublished'>2024-03-05T08:57:40+01:00</div>"
        "<div itemprop='url'>https://cdn.example/ferry-500x250.jpg</div>"
        f"{paragraphs(STORY)}</div></div>"
    )
    html = page(f"{hidden}<div class='story'>{paragraphs(STORY)}</div>", "<title>Ferry timetable approved</title>")
    text = main_text_of(tmp_path, write_bytes, html)
    assert text.split("\n\n") == STORY


@pytest.mark.parametrize(
    "hidden",
    [
        "<span hidden>HIDDEN-CARD Ferry operator profile</span>",
        "<span aria-hidden='true'>HIDDEN-CARD Ferry operator profile</span>",
        "<span style='visibility: hidden'>HIDDEN-CARD Ferry operator profile</span>",
        "<span style='DISPLAY:NONE'>HIDDEN-CARD Ferry operator profile</span>",
    ],
)
def test_main_mode_drops_hidden_elements_inside_the_text(tmp_path, write_bytes, hidden):
    # A pop-up card behind a name, shown on hover: its text sat glued into the sentence.
    first = STORY[0].replace("The harbour authority", f"The harbour authority{hidden}", 1)
    text = main_text_of(tmp_path, write_bytes, story_page(paragraphs([first, *STORY[1:]])))
    assert "HIDDEN-CARD" not in text
    assert STORY[0] in text


def test_main_mode_drops_bare_microdata_values_but_keeps_microdata_prose(tmp_path, write_bytes):
    body = (
        f"<div itemprop='articleBody'><p itemprop='description'>{STORY[0]}</p>"
        "<div itemprop='dateModified'>2024-03-05T08:57:40Z</div>"
        f"{paragraphs(STORY[1:3])}<div itemprop='image'>https://cdn.example/ferry.jpg</div>{paragraphs(STORY[3:])}</div>"
    )
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert text.split("\n\n") == STORY


def test_prune_hidden_removes_microdata_values_and_keeps_the_tail_text():
    from lxml.html import fromstring

    from dataprep.stages.extract.html_prune import prune_hidden

    tree = fromstring(
        "<html><body><article><p itemprop='description'>Ferry timetable approved.</p>"
        "<p>Posted <span itemprop='datePublished'>2024-03-05</span> by the desk.</p>"
        "<p><span itemprop='image'>https://cdn.example/ferry.jpg</span><span itemprop='ratingValue'>4.5</span></p>"
        "<div itemprop='author'><span itemprop='name'>Sam Reed</span></div>"
        "<p>Crossing <b hidden>HIDDEN</b>times<i aria-hidden='true'>*</i> change.</p></article></body></html>"
    )
    assert prune_hidden(tree) == 5
    assert tree.text_content() == "Ferry timetable approved.Posted  by the desk.Sam ReedCrossing times change."


def test_main_mode_joins_an_article_body_split_around_an_ad(tmp_path, write_bytes):
    # trafilatura takes the first articleBody block only; the second half of the story was lost.
    body = (
        f"<div itemprop='articleBody'>{paragraphs(STORY[:2])}</div>"
        "<div class='ad-slot'>ADVERTISEMENT</div>"
        f"<div itemprop='articleBody'>{paragraphs(STORY[2:])}</div>"
    )
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert text.split("\n\n") == STORY


def test_main_mode_joins_body_blocks_in_sibling_wrappers(tmp_path, write_bytes):
    wrapper = "<div class='story-wrap'><div class='article-body'>{}</div></div>"
    body = (
        wrapper.format(paragraphs(STORY[:2])) + "<aside>ADVERTISEMENT</aside>" + wrapper.format(paragraphs(STORY[2:]))
    )
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert text.split("\n\n") == STORY


def test_main_mode_drops_teaser_cards_and_capital_cross_links(tmp_path, write_bytes):
    cards = "".join(
        f"<a href='/story/{n}'><img src='/t{n}.jpg'><h3>OTHER-STORY {n} Lighthouse keeper retires</h3></a>"
        for n in range(3)
    )
    cross_link = "<p><a href='/pier'><strong>STORM CLOSES THE PIER FOR A WEEK</strong></a></p>"
    body = paragraphs(STORY[:2]) + cross_link + paragraphs(STORY[2:]) + f"<div class='cards'>{cards}</div>"
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert text.split("\n\n") == STORY


def test_prune_teasers_keeps_linked_prose_and_capital_prose():
    from lxml.html import fromstring

    from dataprep.stages.extract.html_prune import prune_teasers

    tree = fromstring(
        "<html><body><article><h2><a href='/a'>Harbour works</a></h2>"
        "<p><a href='/doc'>The full report on the ferry timetable</a></p>"
        "<p>THE AUTHORITY SAID <a href='/x'>NO</a> MORE CUTS</p>"
        "<p><a href='/b'>FERRY FARES FROZEN</a></p><p><a href='/c'>BBC NEWS</a></p>"
        "<div><a href='/d'><h4>Other story</h4></a></div></article></body></html>"
    )
    assert prune_teasers(tree) == 2
    assert tree.text_content() == (
        "Harbour worksThe full report on the ferry timetableTHE AUTHORITY SAID NO MORE CUTSBBC NEWS"
    )


def test_main_mode_keeps_an_embedded_tweet_inside_a_widget(tmp_path, write_bytes):
    # The wrapper's "widget" class made trafilatura drop the quoted post with it.
    tweet = (
        "<div class='article-widget article-tweet'><div class='article-tweet__inner'>"
        "<blockquote class='twitter-tweet'><p lang='en'>TWEET-TEXT The ferry is back on time, thanks all</p>"
        "&mdash; Island Ferries (@islandferries) <a href='https://twitter.com/x/status/1'>March 5, 2024</a>"
        "</blockquote><script async src='https://platform.twitter.com/widgets.js'></script></div></div>"
    )
    body = paragraphs(STORY[:2]) + tweet + paragraphs(STORY[2:])
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert "TWEET-TEXT The ferry is back on time, thanks all" in text
    assert text.startswith(STORY[0]) and text.endswith(STORY[-1])


def test_lift_embedded_posts_replaces_only_wrappers_that_hold_nothing_else():
    from lxml.html import fromstring

    from dataprep.stages.extract.html_prune import lift_embedded_posts

    tree = fromstring(
        "<html><body><div class='story'><p>Before.</p>"
        "<div class='embed'><div class='inner'><blockquote class='twitter-tweet'><p>Post</p></blockquote>"
        "<script>load()</script></div></div><p>After.</p></div></body></html>"
    )
    assert lift_embedded_posts(tree) == 1
    story = tree.find(".//div[@class='story']")
    assert [child.tag for child in story] == ["p", "blockquote", "p"]
    assert story[1].get("class") is None


def test_main_mode_drops_boilerplate_whose_class_has_capitals(tmp_path, write_bytes):
    # trafilatura drops class="newsletter-box" but matched "Newsletter-Box" case-sensitively.
    box = "<div class='Newsletter-Box'><h4>BOX-TEXT The morning briefing, every day at six</h4></div>"
    body = f"<div class='postContent'>{paragraphs(STORY[:2])}{box}{paragraphs(STORY[2:])}</div>"
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert text.split("\n\n") == STORY


def test_add_lowercase_classes_keeps_the_original_names():
    from lxml.html import fromstring

    from dataprep.stages.extract.html_prune import add_lowercase_classes

    tree = fromstring("<html><body><div class='postContent'><p class='lead'>x</p></div></body></html>")
    assert add_lowercase_classes(tree) == 1
    assert tree.find(".//div").get("class") == "postContent postcontent"
    assert tree.find(".//p").get("class") == "lead"


def test_main_mode_drops_a_hover_card_glued_into_a_sentence(tmp_path, write_bytes):
    card = (
        "<span class='rollover-people'><a href='/people/sam-reed'>Sam Reed</a>"
        "<span class='rollover-people-block'><img src='/sam.jpg'><a href='/people/sam-reed'>Sam Reed</a>"
        "<a href='/story/9'>CARD-TEXT Harbour dredging starts next month</a></span></span>"
    )
    first = STORY[0].replace("The harbour authority", f"The harbour authority's {card}", 1)
    text = main_text_of(tmp_path, write_bytes, story_page(paragraphs([first, *STORY[1:]])))
    assert "CARD-TEXT" not in text
    assert "The harbour authority's Sam Reed" in text


def test_prune_popups_matches_whole_class_parts_and_spares_paragraphs():
    from lxml.html import fromstring

    from dataprep.stages.extract.html_prune import prune_popups

    tree = fromstring(
        "<html><body class='has-popup'><div class='Tooltip'>a</div><div class='share__popover'>b</div>"
        "<div class='popupgallery'>c</div><div class='modal-popup'><p>d</p></div>"
        "<span class='tooltip-wrapper'>f<span class='tooltiptext'>e</span></span></body></html>"
    )
    assert prune_popups(tree) == 3
    assert tree.text_content() == "cdf"


def test_main_mode_drops_the_headline_which_meta_title_keeps(tmp_path, write_bytes):
    html = story_page(f"<h1>Ferry timetable approved</h1>{paragraphs(STORY)}")
    path = write_bytes("story.html", html.encode())
    extract(path, tmp_path / "a")
    [record] = read_records(tmp_path / "a")
    assert record["text"].split("\n\n") == STORY
    assert record["meta"]["title"] == "Ferry timetable approved | Island News"
    extract(path, tmp_path / "b", keep_headline=True)
    assert texts(tmp_path / "b")[0].split("\n\n") == ["Ferry timetable approved", *STORY]


def test_main_mode_keeps_a_first_paragraph_that_is_not_the_headline(tmp_path, write_bytes):
    text = main_text_of(tmp_path, write_bytes, story_page(paragraphs(STORY), title="Ferry"))
    assert text.split("\n\n") == STORY


def test_main_mode_drops_calls_to_action_and_cross_links(tmp_path, write_bytes):
    chrome = [
        "Subscribe to the Island Morning newsletter",
        "Tell us what YOU think...",
        "Read more: Harbour dredging starts next month",
        "CLICK HERE TO GET THE ISLAND NEWS APP",
    ]
    # Prose that mentions a newsletter is not a call to action.
    prose = (
        "The authority will announce later changes in its monthly newsletter and on the notice board at the "
        "terminal, and it has promised to consult residents before any further cut to the winter service."
    )
    body = paragraphs([STORY[0], chrome[0], STORY[1], chrome[1], chrome[2], STORY[2], chrome[3], STORY[3], prose])
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert text.split("\n\n") == [*STORY, prose]


def test_main_mode_drops_teaser_titles_under_a_list_label(tmp_path, write_bytes):
    teasers = (
        "<h3>You may also like...</h3><p>Lighthouse keeper retires after forty years</p><p>New cafe opens</p>"
        "<p>Ferry fares frozen [INSIGHT]<br>Storm closes the pier [VIDEO]</p>"
    )
    body = paragraphs(STORY[:3]) + teasers + paragraphs(STORY[3:])
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    # The first sentence after the teaser titles ends them.
    assert text.split("\n\n") == STORY


def test_main_mode_drops_the_pages_own_address_and_the_headline_under_it(tmp_path, write_bytes):
    url = "https://news.example/island/ferry-timetable-approved-123.php"
    # A share box prints the address ahead of the story; another address is a reference and stays.
    body = f"<p>{url}</p><h1>Ferry timetable approved</h1>{paragraphs(STORY)}<p>https://ferries.example/timetable</p>"
    html = page(body, f"<title>Ferry timetable approved</title><link rel='canonical' href='{url}'>")
    text = main_text_of(tmp_path, write_bytes, html)
    assert text.split("\n\n") == [*STORY, "https://ferries.example/timetable"]


def test_is_own_url_ignores_scheme_case_and_trailing_slash():
    from dataprep.stages.extract.html_blocks import is_own_url

    urls = {"news.example/a/b"}
    assert is_own_url(" http://NEWS.example/a/b/ ", urls)
    assert not is_own_url("See news.example/a/b", urls)
    assert not is_own_url("https://news.example/a/c", urls)
    assert not is_own_url("https://news.example/a/b", set())


def test_main_mode_drops_a_label_and_its_teaser_titles_in_one_paragraph(tmp_path, write_bytes):
    teasers = (
        "<p><strong>DON'T MISS</strong><br><strong><a href='/a'>Lighthouse keeper retires</a> [INSIGHT]</strong>"
        "<br><strong><a href='/b'>Storm closes the pier</a> [VIDEO]</strong></p>"
    )
    # A label over a sentence is prose that starts with the same words, and stays.
    sentence = "than forty residents came to the meeting, most of them from the north of the island."
    body = paragraphs(STORY[:2]) + teasers + paragraphs(STORY[2:]) + f"<p>More<br>{sentence}</p>"
    text = main_text_of(tmp_path, write_bytes, story_page(body))
    assert text.split("\n\n") == [*STORY, f"More\n{sentence}"]


@pytest.mark.parametrize(
    ("block", "chrome"),
    [
        ("Lesen Sie auch: Neue Fähre ab Mai", True),
        ("Jetzt Newsletter abonnieren", True),
        ("À lire aussi : la nouvelle ligne", True),
        ("Abonnez-vous à notre lettre", True),
        ("Suscríbete al boletín", True),
        ("Noticias relacionadas", True),
        ("(Leggi anche su: il nuovo orario)", True),
        ("[Related: Harbour dredging starts next month]", True),
        ("Most read in island news", True),
        ("Follow Island News on Facebook, Twitter and Instagram.", True),
        ("Sam Reed contributed to this report.", True),
        ("Sam Reed contributed reporting from the harbour.", True),
        ("Additional reporting by Sam Reed", True),
        ("Filed under: Island news |", True),
        ("The ferry was filed under a new name in the register.", False),
        ("Tempo de leitura: 1 minuto", True),
        ("Pick Six Newsletter", True),
        ("Lea también: Cierran el puerto por la tormenta", True),
        ("LE PUEDE INTERESAR: El nuevo horario del ferri", True),
        ("Mehr zum Thema auf inselnews.example", True),
        ("Das Thema könnte dich auch interessieren:", True),
        ("Pour lire la suite", True),
        ("Lee: I think the timetable works.", False),
        ("Zum Newsletter anmelden", True),
        ("Keep an eye on your inbox for the latest island news.", True),
        # A newsletter or an inbox in news is not a call to action.
        ("The ferry operators' newsletter reached 3,000 members.", False),
        ("Her inbox was full of complaints, she said.", False),
        ("Subscribers to the ferry pass rose by a tenth.", False),
        ("The operator continued to sign up additional crews over the summer.", False),
        ("Sign up now", True),
        ("RSS-Feed abonnieren", True),
        ("More than forty residents came to the meeting, most of them from the north of the island.", False),
        ("Related research suggests the delays will not end soon.", False),
        ("Trending now is a phrase the operator would rather avoid, its spokesman said.", False),
        ("Read more than a hundred complaints and you see the pattern, she said of the letters.", False),
    ],
)
def test_calls_to_action_and_cross_link_labels_in_several_languages(block, chrome):
    from dataprep.stages.extract.html_blocks import is_chrome

    assert is_chrome(block) is chrome


def test_a_long_block_is_prose_whatever_its_words():
    from dataprep.stages.extract.html_blocks import MAX_CHROME_WORDS, is_chrome

    assert not is_chrome("Subscribe " + "word " * MAX_CHROME_WORDS)


FORUM = """<html><head><title>Battery drains overnight - Garage Forum</title></head><body>
<div class="navbar"><a href="/">Board index</a> <a href="/faq">FAQ</a></div>
{posts}
<div class="stat-block online-list"><h3>Who is online</h3><p>Users browsing this forum: 14 guests</p></div>
</body></html>"""
POST = """<div class="post"><dl class="postprofile"><dt>USERNAME{n}</dt><dd>Posts: 4318</dd><dd>Joined: 2011</dd></dl>
<div class="postbody"><h3>Re: Battery drains overnight</h3><div class="content">{text}</div>
<div class="signature">SIGNATURE-TEXT too many projects</div></div></div>"""
POSTS = [
    "My battery goes flat if I leave the car for two nights, although it is only a few months old.",
    "Put a multimeter in series with the negative terminal and pull fuses one by one until the current drops.",
    "Found it: the glovebox light switch was stuck, so the bulb stayed on all night.",
]


def test_main_mode_takes_every_post_of_a_forum_thread(tmp_path, write_bytes):
    posts = "".join(POST.format(n=n, text=text) for n, text in enumerate(POSTS))
    path = write_bytes("thread.html", FORUM.format(posts=posts).encode())
    extract(path, tmp_path / "a")
    [record] = read_records(tmp_path / "a")
    assert record["text"] == "\n\n".join(POSTS)
    assert record["meta"]["extractor"] == "forum"
    # Without the thread path, trafilatura runs on the page with the engine's user panels
    # and signatures pruned.
    extract(path, tmp_path / "b", forum_threads=False)
    [record] = read_records(tmp_path / "b")
    assert record["meta"]["extractor"] == "trafilatura"
    assert POSTS[1] in record["text"]
    for chrome in ("USERNAME", "Posts: 4318", "SIGNATURE-TEXT", "Who is online"):
        assert chrome not in record["text"]


def test_posts_parsed_together_give_each_post_its_own_text():
    from lxml.html import fromstring

    from dataprep.stages.extract.html_forum import post_text, post_texts

    # Posts of several shapes: lists, a quote, a table row's cell, a <pre>, a hidden span.
    bodies = [
        "<div><p>First <b>post</b></p><ul><li>one</li><li>two</li></ul></div>",
        "<div><blockquote>quoted</blockquote>reply<span hidden>secret</span></div>",
        "<td>a cell<br>on two lines</td>",
        "<div><pre>  code\n    indented</pre></div>",
    ]
    tree = fromstring(
        "<html><body><table><tr>"
        + "".join(bodies[2:3])
        + "</tr></table>"
        + "".join(bodies[:2] + bodies[3:])
        + "</body></html>"
    )
    elements = [tree.xpath("//td")[0], *tree.xpath("/html/body/div")]
    assert post_texts(elements) == [post_text(el) for el in elements]
    assert "secret" not in post_texts(elements)[2]


def test_a_page_with_one_post_body_is_not_a_thread(tmp_path, write_bytes):
    posts = POST.format(n=0, text=" ".join(POSTS * 3))
    path = write_bytes("thread.html", FORUM.format(posts=posts).encode())
    extract(path, tmp_path / "o")
    assert read_records(tmp_path / "o")[0]["meta"]["extractor"] != "forum"


# ---- text mode ----------------------------------------------------------------------


def test_text_mode_skips_invisible_elements(tmp_path, write_bytes):
    body = """<p>visible one</p>
    <script>SCRIPT</script><style>.x{}</style><noscript>NOSCRIPT</noscript><template><p>TEMPLATE</p></template>
    <div hidden>HIDDEN-ATTR</div><div aria-hidden="true">ARIA</div><div style="display: none">DISPLAY</div>
    <span style="VISIBILITY:hidden">VIS</span><span class="sr-only">SRONLY</span><div class="a hidden b">CLASS</div>
    <!-- COMMENT --><p>visible two</p>"""
    path = write_bytes("p.html", page(body, "<title>TITLE</title>").encode())
    extract(path, tmp_path / "o", mode="text")
    assert texts(tmp_path / "o") == ["visible one\n\nvisible two"]


def test_text_mode_block_elements_become_line_breaks(tmp_path, write_bytes):
    body = (
        "<h1>Title</h1><p>First <b>bold</b>\n   paragraph.</p><div><div>nested</div></div><div>next</div>"
        "<ul><li>one</li><li>two</li></ul>line<br>break<br><br>blank<table><tr><td>a</td><td>b</td></tr></table>"
    )
    path = write_bytes("p.html", page(body).encode())
    extract(path, tmp_path / "o", mode="text")
    assert texts(tmp_path / "o") == [
        "Title\n\nFirst bold paragraph.\n\nnested\nnext\n\none\ntwo\n\nline\nbreak\n\nblank\n\na b"
    ]


def test_text_mode_keeps_pre_and_collapses_other_whitespace(tmp_path, write_bytes):
    body = "<p>  lots   of\t\tspace\n\n here </p><pre>def f():\n    return  1</pre><p>after</p>"
    path = write_bytes("p.html", page(body).encode())
    extract(path, tmp_path / "o", mode="text")
    assert texts(tmp_path / "o") == ["lots of space here\n\ndef f():\n    return  1\n\nafter"]


def test_text_mode_deeply_nested_page(tmp_path, write_bytes):
    body = "<div>" * 3000 + "deep text" + "</div>" * 3000
    path = write_bytes("deep.html", page(body).encode())
    extract(path, tmp_path / "o", mode="text")
    assert texts(tmp_path / "o") == ["deep text"]


# ---- encodings and metadata -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("\ufeff<p>Café £5</p>".encode(), "utf-8-sig"),
        ("<p>Café £5</p>".encode("utf-16"), "utf-16"),
        ('<meta charset="windows-1252"><p>Café £5</p>'.encode("cp1252"), "cp1252"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>Café £5</p>'.encode("cp1252"),
            "cp1252",
        ),
        ("<p>Café £5</p>".encode(), "utf-8"),
        ("<p>Café £5</p>".encode("cp1252"), "cp1252"),
    ],
)
def test_encoding_from_bom_meta_charset_or_fallback(tmp_path, write_bytes, data, encoding):
    path = write_bytes("p.html", data)
    extract(path, tmp_path / "o", mode="text")
    assert texts(tmp_path / "o") == ["Café £5"]
    assert read_stats(tmp_path / "o")["extra"]["encodings"] == {encoding: 1}


def test_meta_charset_for_a_multibyte_encoding(tmp_path, write_bytes):
    head = '<meta charset="shift_jis"><title>東京の天気</title>'
    html = f"<html><head>{head}</head><body><p>今日は晴れです。</p></body></html>"
    path = write_bytes("jp.html", html.encode("shift_jis"))
    extract(path, tmp_path / "o", mode="text")
    [record] = read_records(tmp_path / "o")
    assert record["text"] == "今日は晴れです。"
    assert record["meta"]["title"] == "東京の天気"


def test_iso_8859_1_label_decodes_curly_quotes_like_a_browser():
    data = '<meta charset="iso-8859-1"><p>„Zustimmen“ – Grüße</p>'.encode("cp1252")
    assert decode_html(data) == ('<meta charset="iso-8859-1"><p>„Zustimmen“ – Grüße</p>', "cp1252")


def test_stale_meta_charset_on_a_page_saved_as_utf8():
    data = '<meta charset="iso-8859-1"><p>Grüße aus Köln</p>'.encode()
    assert decode_html(data)[1] == "utf-8"
    assert "Grüße aus Köln" in decode_html(data)[0]


def test_bytes_windows_1252_leaves_undefined_fall_back_to_latin1():
    assert decode_html(b"<p>abc\x81def</p>") == ("<p>abc\x81def</p>", "latin-1")


def test_encoding_option_overrides_detection(tmp_path, write_bytes):
    path = write_bytes("p.html", "<p>Ελληνικά</p>".encode("iso-8859-7"))
    extract(path, tmp_path / "o", mode="text", encoding="iso-8859-7")
    assert texts(tmp_path / "o") == ["Ελληνικά"]


def test_meta_title_url_and_lang(tmp_path, write_bytes):
    head = (
        '<title>  Real\n title </title><meta property="og:url" content="https://ex.example/og">'
        '<meta property="og:title" content="OG title">'
    )
    body = "<svg><title>icon tooltip</title></svg><p>Some text for the page.</p>"
    html = f'<html xml:lang="pt_BR"><head>{head}</head><body>{body}</body></html>'
    path = write_bytes("p.html", html.encode())
    extract(path, tmp_path / "o", mode="text")
    assert read_records(tmp_path / "o")[0]["meta"] == {
        "title": "Real title",
        "url": "https://ex.example/og",
        "lang": "pt-BR",
    }


def test_canonical_wins_over_og_url_and_missing_meta_is_left_out(tmp_path, write_bytes):
    head = '<link rel="Canonical" href="/canonical"><meta property="og:url" content="https://ex.example/og">'
    path = write_bytes("a.html", page("<p>x</p>", head).encode())
    extract(path, tmp_path / "o", mode="text")
    assert read_records(tmp_path / "o")[0]["meta"] == {"url": "/canonical"}


# ---- inputs -------------------------------------------------------------------------


def test_folders_globs_and_gzip(tmp_path, write_bytes):
    write_bytes("site/a.html", page("<p>page a</p>").encode())
    write_bytes("site/sub/b.htm", page("<p>page b</p>").encode())
    (tmp_path / "site" / "sub" / "c.html.gz").write_bytes(gzip.compress(page("<p>page c</p>").encode()))
    write_bytes("site/notes.txt", b"not a page")
    # A crawler that saved the compressed response body under a plain .html name.
    write_bytes("site/d.html", gzip.compress(page("<p>page d</p>").encode()))
    extract(tmp_path / "site", tmp_path / "o", mode="text")
    assert texts(tmp_path / "o") == ["page a", "page d", "page b", "page c"]
    extract([str(tmp_path / "site" / "**" / "*.htm")], tmp_path / "g", mode="text")
    assert texts(tmp_path / "g") == ["page b"]


# ---- bad input ----------------------------------------------------------------------


def test_bad_pages_are_rejected_with_reasons_and_the_run_goes_on(tmp_path, write_bytes):
    good = write_bytes("good.html", ARTICLE.encode())
    bad = {
        "empty-file": write_bytes("empty.html", b""),
        "binary-file": write_bytes("image.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
        "not-html": write_bytes("notes.html", b"Just some plain notes, no markup at all.\nSecond line.\n"),
        "empty-extraction": write_bytes("script.html", page("<script>var a = 1;</script>").encode()),
        "too-large": write_bytes("big.html", page("<p>" + "word " * 5000 + "</p>").encode()),
        "bad-gzip": write_bytes("broken.html.gz", gzip.compress(ARTICLE.encode())[:200]),
    }
    blank = write_bytes("blank.html", b"   \n\t  ")
    stats = extract([good, *bad.values(), blank], tmp_path / "o", max_page_bytes=20_000)
    assert stats.records_in == 8 and stats.records_out == 1
    assert dict(stats.dropped) == {**{reason: 1 for reason in bad}, "empty-file": 2}
    rejects = {r["source"]: r for r in read_rejects(tmp_path / "o")}
    for reason, path in bad.items():
        assert rejects[str(path)]["reason"] == reason
        assert rejects[str(path)]["detail"]
    assert "20,000" in rejects[str(bad["too-large"])]["detail"]


def test_too_large_after_gunzip(tmp_path):
    path = tmp_path / "big.html.gz"
    path.write_bytes(gzip.compress(page("<p>" + "word " * 50_000 + "</p>").encode()))
    assert path.stat().st_size < 5_000
    stats = extract(path, tmp_path / "o", max_page_bytes=100_000)
    assert dict(stats.dropped) == {"too-large": 1}


def test_nul_bytes_mean_binary(tmp_path, write_bytes):
    path = write_bytes("x.html", b"<html>" + b"\x00" * 50 + b"</html>")
    assert dict(extract(path, tmp_path / "o").dropped) == {"binary-file": 1}


def test_a_page_the_extractor_chokes_on_is_rejected_and_the_run_goes_on(tmp_path, write_bytes, monkeypatch):
    from dataprep.stages.extract import html_main as html_stage  # the stage imports it when it runs

    real = html_stage.main_text

    def flaky(html, tree, options):
        if "CHOKE" in html:
            raise RecursionError("maximum recursion depth exceeded")
        return real(html, tree, options)

    monkeypatch.setattr(html_stage, "main_text", flaky)
    bad = write_bytes("bad.html", page("<p>CHOKE</p>").encode())
    good = write_bytes("good.html", ARTICLE.encode())
    stats = extract([bad, good], tmp_path / "o")
    assert stats.records_out == 1 and dict(stats.dropped) == {"extraction-failed": 1}
    assert read_rejects(tmp_path / "o")[0]["detail"] == "RecursionError: maximum recursion depth exceeded"


# ---- select mode --------------------------------------------------------------------

QA = """<html><head><title>Kettle Q&amp;A</title></head><body><h1 class="product">Glass kettle</h1>
<div class="qa"><div class="q">Does limescale show?</div><div class="a">Yes, descale monthly.</div></div>
<div class="qa"><div class="q">Minimum fill?</div><div class="a">Half a litre.</div></div>
<div class="qa"><div class="q">Is it loud?</div><div class="a">Quieter than <b>plastic</b> ones.</div></div>
</body></html>"""


def test_select_pairs_matches_in_document_order(tmp_path, write_bytes):
    path = write_bytes("qa.html", QA.encode())
    extract(path, tmp_path / "o", mode="select", field={"input": ".q", "output": ".a", "product": "h1.product"})
    records = read_records(tmp_path / "o")
    assert [(r["input"], r["output"]) for r in records] == [
        ("Does limescale show?", "Yes, descale monthly."),
        ("Minimum fill?", "Half a litre."),
        ("Is it loud?", "Quieter than plastic ones."),
    ]
    assert [r["source"] for r in records] == [f"{path}#match={n}" for n in (1, 2, 3)]
    assert records[0]["meta"] == {"title": "Kettle Q&A", "product": "Glass kettle"}


def test_select_text_field(tmp_path, write_bytes):
    path = write_bytes("qa.html", QA.encode())
    extract(path, tmp_path / "o", mode="select", field={"text": ".qa"})
    assert texts(tmp_path / "o")[0] == "Does limescale show?\nYes, descale monthly."


def test_select_rejects_unequal_counts(tmp_path, write_bytes):
    path = write_bytes("qa.html", QA.replace('<div class="a">Half a litre.</div>', "").encode())
    stats = extract(path, tmp_path / "o", mode="select", field={"input": ".q", "output": ".a"})
    assert stats.records_out == 0 and dict(stats.dropped) == {"unequal-matches": 1}
    [reject] = read_rejects(tmp_path / "o")
    assert reject["detail"] == "input ('.q') matched 3, output ('.a') matched 2"


def test_select_rejects_a_meta_field_that_neither_matches_once_nor_pairs(tmp_path, write_bytes):
    path = write_bytes("qa.html", QA.encode())
    stats = extract(path, tmp_path / "o", mode="select", field={"input": ".q", "output": ".a", "x": "b, h1"})
    assert dict(stats.dropped) == {"unequal-matches": 1}


def test_select_no_match_and_empty_pair(tmp_path, write_bytes):
    nothing = write_bytes("none.html", page("<p>no q and a here</p>").encode())
    empty = write_bytes("qa.html", QA.replace("Minimum fill?", "<img src=x.png>").encode())
    stats = extract([nothing, empty], tmp_path / "o", mode="select", field={"input": ".q", "output": ".a"})
    assert stats.records_out == 2
    assert dict(stats.dropped) == {"no-match": 1, "empty-extraction": 1}
    sources = {r["reason"]: r["source"] for r in read_rejects(tmp_path / "o")}
    assert sources == {"no-match": str(nothing), "empty-extraction": f"{empty}#match=2"}


def test_select_turns_give_messages(tmp_path, write_bytes):
    posts = "".join(f'<div class="post"><div class="body">{text}</div></div>' for text in [*POSTS, " "])
    path = write_bytes("thread.html", page(f"<h1>Battery</h1>{posts}").encode())
    extract(path, tmp_path / "o", mode="select", turns=".post .body", field={"topic": "h1"})
    [record] = read_records(tmp_path / "o")
    assert record["messages"] == [
        {"role": "user", "content": POSTS[0]},
        {"role": "assistant", "content": POSTS[1]},
        {"role": "user", "content": POSTS[2]},
    ]
    assert record["meta"]["topic"] == "Battery"
    assert read_stats(tmp_path / "o")["extra"]["empty_turns_skipped"] == 1
    extract(path, tmp_path / "r", mode="select", turns=".post .body", turn_roles=["a", "b", "c"])
    assert [m["role"] for m in read_records(tmp_path / "r")[0]["messages"]] == ["a", "b", "c"]


def test_select_turns_needs_two_posts(tmp_path, write_bytes):
    path = write_bytes("t.html", page('<div class="post">only one</div>').encode())
    assert dict(extract(path, tmp_path / "o", mode="select", turns=".post").dropped) == {"too-few-turns": 1}


def test_select_turns_fields_must_match_once(tmp_path, write_bytes):
    path = write_bytes("t.html", page('<div class="post">one</div><div class="post">two</div>').encode())
    stats = extract(path, tmp_path / "o", mode="select", turns=".post", field={"author": ".post"})
    assert dict(stats.dropped) == {"unequal-matches": 1}
    assert "author matched 2" in read_rejects(tmp_path / "o")[0]["detail"]


def test_select_from_the_cli_keeps_css_verbatim(tmp_path, write_bytes, cli):
    html = page('<p id="q">Why?</p><p id="a">Because.</p><p data-x="1">[attr]</p>')
    path = write_bytes("qa.html", html.encode())
    out = tmp_path / "o.jsonl"
    args = ["--mode", "select", "--field", "input=#q", "--field", "output=#a", "--field", "note=[data-x]", "-q"]
    result = cli("extract-html", path, "-o", out, *args)
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (record["input"], record["output"], record["meta"]["note"]) == ("Why?", "Because.", "[attr]")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"field": {"input": "p"}}, "apply only to mode select"),
        ({"mode": "select"}, "needs fields"),
        ({"mode": "select", "field": {"input": ".q"}}, "the output field is missing"),
        ({"mode": "select", "field": {"text": ".q", "input": ".a"}}, "either a text field"),
        ({"mode": "select", "field": {"input": ".q", "output": "p[["}}, "not a valid CSS selector"),
        ({"mode": "select", "turns": ".p", "field": {"output": ".a"}}, "turns makes chat messages"),
        ({"max_page_bytes": 0}, "must be positive"),
        ({"encoding": "klingon"}, "unknown encoding"),
    ],
)
def test_bad_options_are_plain_sentences(options, message):
    with pytest.raises(ValueError, match=message):
        ExtractHtmlConfig(**options)


def test_bad_option_from_the_cli_exits_2(tmp_path, write_bytes, cli):
    path = write_bytes("p.html", page("<p>x</p>").encode())
    result = cli("extract-html", path, "-o", tmp_path / "o", "--mode", "select", "--field", "input=.q")
    assert result.exit_code == 2
    assert "output field is missing" in result.output


def test_missing_input_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        extract(tmp_path / "nope.html", tmp_path / "o")


# ---- determinism --------------------------------------------------------------------


def test_two_runs_are_byte_identical(tmp_path, write_bytes):
    write_bytes("in/tap.html", ARTICLE.encode())
    write_bytes("in/qa.html", QA.encode())
    write_bytes("in/empty.html", b"")
    posts = "".join(POST.format(n=n, text=text) for n, text in enumerate(POSTS))
    write_bytes("in/thread.html", FORUM.format(posts=posts).encode())
    for mode in ("main", "text"):
        extract(tmp_path / "in", tmp_path / f"{mode}1", mode=mode)
        extract(tmp_path / "in", tmp_path / f"{mode}2", mode=mode)
        assert tree_bytes(tmp_path / f"{mode}1") == tree_bytes(tmp_path / f"{mode}2")
        for name in ("rejects.jsonl", "stats.json"):
            first = (tmp_path / f"{mode}1" / name).read_text()
            second = (tmp_path / f"{mode}2" / name).read_text()
            if name == "stats.json":
                first, second = (json.loads(t) for t in (first, second))
                for stats in (first, second):  # the measured figures differ from run to run
                    for measured in ("seconds", "records_per_second", "peak_memory_mb"):
                        stats.pop(measured)
            assert first == second


# ---- sample pipeline ----------------------------------------------------------------


def test_sample_pipeline_html_stages(tmp_path, monkeypatch):
    from conftest import REPO

    from dataprep.pipeline.config import load_pipeline
    from dataprep.pipeline.runner import run_pipeline

    monkeypatch.chdir(REPO)
    pipeline = load_pipeline("pipelines/sample.yml")
    pipeline.config.output_dir = tmp_path / "run"
    results = {r.name: r for r in run_pipeline(pipeline, until_stage="product-qa", quiet=True)}
    assert results["pages"].stats["records_out"] == 3
    assert results["product-qa"].stats["records_out"] == 4
    pages = read_records(tmp_path / "run" / results["pages"].folder)
    assert sorted(r["meta"]["extractor"] for r in pages) == ["forum", "trafilatura", "trafilatura"]
    assert all("cookie" not in r["text"].lower() for r in pages)
    qa = read_records(tmp_path / "run" / results["product-qa"].folder)
    assert qa[1]["input"] == "What is the minimum amount of water it can boil?"
    assert qa[1]["output"].startswith("The minimum mark is 0.5 litres")
