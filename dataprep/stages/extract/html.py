"""``extract-html``: records from saved web pages.

Three modes:

- ``main`` (default): the page's main content with trafilatura (menus, ads, footers,
  cookie banners, comment sections and related links removed), with a fallback for
  pages where it finds too little (see :mod:`html_main`).
- ``text``: all visible text, with BeautifulSoup (see :mod:`html_text`).
- ``select``: fields picked with CSS selectors, paired by position into input/output
  records, text records, or one chat record per thread with ``turns``.

Pages come from files, folders (recursive), globs and ``.html.gz`` files; the
encoding comes from a BOM or the meta charset (see :mod:`html_input`). A page that
cannot be used is rejected with its reason and the run goes on.
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from dataprep.io.readers import Reject
from dataprep.records import new_record
from dataprep.stages import SourceStage, StageConfig, StageContext, register

if TYPE_CHECKING:
    from dataprep.stages.extract.html_input import Page

# The parsers (trafilatura, lxml, BeautifulSoup) are imported where they are used, so that
# `dataprep --help` does not load them.


class ExtractHtmlConfig(StageConfig):
    """Options of ``extract-html``."""

    mode: Literal["main", "text", "select"] = Field(
        "main",
        description="main: the article or post without boilerplate (trafilatura); text: all visible text; "
        "select: fields picked with CSS selectors (--field, --turns).",
    )
    field: dict[str, str] = Field(
        default_factory=dict,
        description="select mode: NAME=CSS. input and output (or text) make the record; any other name goes "
        "into meta. Matches pair up in document order, e.g. --field input=.question --field output=.answer.",
    )
    turns: str | None = Field(
        None,
        description="select mode: CSS selector of a thread's posts; each match becomes one chat message, "
        "giving one messages record per page.",
    )
    turn_roles: list[str] = Field(
        default_factory=lambda: ["user", "assistant"],
        description="Roles given to the turns in order, cycling (user, assistant, user, ...).",
    )
    favor: Literal["balanced", "precision", "recall"] = Field(
        "balanced", description="main mode: trafilatura's trade-off; precision drops doubtful text, recall keeps it."
    )
    fast: bool = Field(
        False, description="main mode: skip trafilatura's comparison with its readability and jusText fallbacks."
    )
    include_tables: bool = Field(True, description="main mode: keep the text of tables inside the main content.")
    include_comments: bool = Field(False, description="main mode: keep the comment section after the main text.")
    forum_threads: bool = Field(
        True,
        description="main mode: on a thread page of a known forum engine (phpBB, XenForo, vBulletin, Discourse, "
        "MyBB, SMF, Invision, schema.org markup), take the text of every post.",
    )
    keep_headline: bool = Field(
        False,
        description="main mode: keep the headline as the first paragraph; by default it is dropped from the "
        "text when it repeats the page's <h1>, og:title or <title> (meta.title holds it either way).",
    )
    min_main_chars: int = Field(
        250,
        description="main mode: when trafilatura returns fewer characters, try the text of the page's "
        "<main>/<article> element instead.",
    )
    max_page_bytes: int = Field(
        10_000_000, description="Reject pages larger than this many bytes (after gunzip) as too-large."
    )
    encoding: str = Field(
        "auto", description="Page encoding; auto reads a BOM, else the meta charset, else UTF-8, else Windows-1252."
    )

    @field_validator("field")
    @classmethod
    def _valid_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, css in value.items():
            if not name.strip():
                raise ValueError("each field needs a name: NAME=CSS, e.g. input=.question")
            from dataprep.stages.extract.html_select import check_selector

            check_selector(css)
        return value

    @field_validator("turns")
    @classmethod
    def _valid_turns(cls, value: str | None) -> str | None:
        if value is not None:
            from dataprep.stages.extract.html_select import check_selector

            check_selector(value)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}; use auto or e.g. utf-8, cp1252, shift_jis") from None
        return value

    @field_validator("max_page_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("max_page_bytes must be positive")
        return value

    @field_validator("min_main_chars")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("min_main_chars must not be negative")
        return value

    @field_validator("turn_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        if not value or not all(role.strip() for role in value):
            raise ValueError("turn_roles needs at least one non-empty role, e.g. user and assistant")
        return value

    @model_validator(mode="after")
    def _select_options(self) -> ExtractHtmlConfig:
        from dataprep.stages.extract.html_select import CONTENT_FIELDS

        content = [name for name in self.field if name in CONTENT_FIELDS]
        if self.mode != "select":
            if self.field or self.turns:
                raise ValueError("field and turns apply only to mode select; add mode: select (--mode select)")
            return self
        if self.turns:
            if content:
                raise ValueError("turns makes chat messages; do not also give input, output or text fields")
            return self
        if not content:
            raise ValueError(
                "mode select needs fields: input=CSS and output=CSS, or text=CSS, or turns=CSS for a thread"
            )
        if "text" in content and len(content) > 1:
            raise ValueError("give either a text field or input and output fields, not both")
        if "text" not in content and len(content) != 2:
            missing = "output" if "input" in content else "input"
            raise ValueError(f"the {missing} field is missing; input and output go together")
        return self


@register
class ExtractHtml(SourceStage):
    """Extract the main text, all visible text, or CSS-selected fields from HTML pages."""

    name = "extract-html"
    Config = ExtractHtmlConfig
    input_suffixes = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz", ".xhtml.gz")
    config: ExtractHtmlConfig

    worker_counters = ("encodings", "extractors", "empty_turns")

    def __init__(self, config: ExtractHtmlConfig, ctx: StageContext | None = None) -> None:
        from dataprep.stages.extract.html_main import MainOptions

        super().__init__(config, ctx)
        self.main_options = MainOptions(
            favor=config.favor,
            fast=config.fast,
            include_tables=config.include_tables,
            include_comments=config.include_comments,
            min_chars=config.min_main_chars,
            forum_threads=config.forum_threads,
            keep_headline=config.keep_headline,
        )
        self.encodings: Counter[str] = Counter()
        self.extractors: Counter[str] = Counter()
        self.empty_turns = 0

    def summary(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"encodings": dict(sorted(self.encodings.items()))}
        if self.config.mode == "main":
            extra["extractors"] = dict(sorted(self.extractors.items()))
        if self.config.turns:
            extra["empty_turns_skipped"] = self.empty_turns
        return extra

    def read(self, path: Path) -> Iterator[dict[str, Any] | Reject]:
        from dataprep.stages.extract.html_input import PageError, load_page

        source = str(path)
        try:
            page = load_page(path, self.config.max_page_bytes, self.config.encoding)
        except PageError as exc:
            yield Reject(exc.reason, source, detail=exc.detail)
            return
        self.encodings[page.encoding] += 1
        try:
            items = list(self._extract(page, source))
        except Exception as exc:  # noqa: BLE001 - one page a parser chokes on must not end a crawl-sized run
            items = [Reject("extraction-failed", source, detail=f"{type(exc).__name__}: {exc}")]
        yield from items

    def _extract(self, page: Page, source: str) -> Iterator[dict[str, Any] | Reject]:
        from trafilatura.utils import load_html

        from dataprep.stages.extract.html_main import main_text
        from dataprep.stages.extract.html_meta import head_tree, page_meta
        from dataprep.stages.extract.html_text import page_text

        mode = self.config.mode
        if mode == "main":
            # trafilatura's own parser, so that main mode sees exactly the tree trafilatura.extract would.
            tree = load_html(page.html)
            meta = page_meta(tree)
        else:
            meta = page_meta(head_tree(page.html))
        if mode == "select":
            yield from self._select(page, source, meta)
            return
        if mode == "main":
            text, extractor = main_text(page.html, tree, self.main_options)
            self.extractors[extractor] += 1
            meta["extractor"] = extractor
        else:
            text = page_text(page.html)
        if not text.strip():
            yield Reject("empty-extraction", source, record={"meta": meta}, detail=f"{mode} mode found no text")
            return
        yield new_record(source, text=text, meta=meta)

    def _select(self, page: Page, source: str, meta: dict[str, Any]) -> Iterator[dict[str, Any] | Reject]:
        from dataprep.stages.extract.html_select import CONTENT_FIELDS, select_fields
        from dataprep.stages.extract.html_text import parse

        soup = parse(page.html)
        if self.config.turns:
            yield from self._thread(soup, source, meta)
            return
        result = select_fields(soup, self.config.field)
        if result.reason:
            yield Reject(result.reason, source, detail=result.detail)
            return
        for number, row in enumerate(result.rows, start=1):
            locator = f"{source}#match={number}"
            content = {name: row[name] for name in CONTENT_FIELDS if name in row}
            empty = [name for name, value in content.items() if not value.strip()]
            if empty:
                detail = f"match {number}: the {' and '.join(empty)} field has no visible text"
                yield Reject("empty-extraction", locator, record=row, detail=detail)
                continue
            record_meta = {**meta, **{name: value for name, value in row.items() if name not in CONTENT_FIELDS}}
            yield new_record(locator, meta=record_meta, **content)

    def _thread(self, soup: Any, source: str, meta: dict[str, Any]) -> Iterator[dict[str, Any] | Reject]:
        from dataprep.stages.extract.html_select import assign_roles, select_turns
        from dataprep.stages.extract.html_text import visible_text

        found = {name: soup.select(css) for name, css in self.config.field.items()}
        counts = {name: len(tags) for name, tags in found.items()}
        if any(count != 1 for count in counts.values()):
            described = ", ".join(f"{name} matched {count}" for name, count in counts.items())
            yield Reject(
                "unequal-matches", source, detail=f"with turns, each field must match once per page: {described}"
            )
            return
        turns = select_turns(soup, self.config.turns or "")
        kept = [turn for turn in turns if turn.strip()]
        self.empty_turns += len(turns) - len(kept)
        if len(kept) < 2:
            yield Reject(
                "too-few-turns",
                source,
                detail=f"turns ({self.config.turns!r}) matched {len(kept)} post(s) with text; a thread needs two",
            )
            return
        meta = {**meta, **{name: visible_text(tags[0]) for name, tags in found.items()}}
        yield new_record(source, messages=list(assign_roles(kept, self.config.turn_roles)), meta=meta)
