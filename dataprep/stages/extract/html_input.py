"""Loading one HTML page: size limit, gzip, binary sniffing and the character encoding.

Every way a page can be unusable is a :class:`PageError` with a reject reason, so
that one bad file in a crawl of thousands is counted and skipped, never fatal.
"""

from __future__ import annotations

import codecs
import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from bs4.dammit import EncodingDetector

from dataprep.io.encoding import bom_encoding

GZIP_MAGIC = b"\x1f\x8b"
# Formats that are often saved with a .html name by crawlers (a PDF or image behind an HTML link).
BINARY_MAGIC = (
    b"%PDF",
    b"PK\x03\x04",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"RIFF",
    b"OggS",
    b"\x7fELF",
    b"7z\xbc\xaf",
)
# WHATWG Encoding Standard: browsers decode these labels as windows-1252, a superset of them.
WINDOWS_1252_ALIASES = {"latin_1", "iso8859-1", "ascii"}
SNIFF_BYTES = 8192
# C0 controls other than tab, newline, vertical tab, form feed and carriage return.
CONTROL_BYTES = bytes([*range(9), *range(14, 32)])
# Real element names, so a plain-text file that mentions "a < b" or "<3" is not taken for HTML.
HTML_TAG = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|div|p|span|a|table|tr|td|article|section|main|header|footer|"
    r"nav|aside|h[1-6]|ul|ol|li|dl|br|img|form|script|style|link|pre|blockquote|strong|em|b|i)[\s/>]",
    re.IGNORECASE,
)


class PageError(Exception):
    """A page that cannot be used, with the reject reason and a sentence saying why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Page:
    html: str
    encoding: str
    size: int


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The page's bytes, gunzipped when compressed, or a PageError past ``max_bytes``."""
    too_large = PageError("too-large", f"the page is larger than the limit of {max_bytes:,} bytes (max_page_bytes)")
    try:
        if path.stat().st_size > max_bytes and not path.name.lower().endswith(".gz"):
            raise too_large
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise PageError("unreadable-file", f"cannot read the file ({exc.strerror or exc})") from exc
    # Crawlers often store the compressed response body under a plain .html name.
    if data.startswith(GZIP_MAGIC):
        data = _gunzip(path, max_bytes)
    if len(data) > max_bytes:
        raise too_large
    return data


def _gunzip(path: Path, max_bytes: int) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise PageError("bad-gzip", f"the gzip data is corrupt or truncated ({exc})") from exc


def is_binary(data: bytes) -> bool:
    """True for images, PDFs, archives and other non-text bytes."""
    if bom_encoding(data[:4]):
        return False
    head = data[:SNIFF_BYTES]
    if head.startswith(BINARY_MAGIC + (GZIP_MAGIC,)) or b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, CONTROL_BYTES))
    return controls > len(head) * 0.05


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        # A document whose bytes hold an ASCII meta tag cannot be UTF-16 (WHATWG: treat as UTF-8).
        return "utf-8"
    return "cp1252" if name in WINDOWS_1252_ALIASES else name


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def decode_html(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Decode a page; returns the text and the encoding used.

    Order: a BOM; else the ``<meta charset>`` (or http-equiv) declaration; else UTF-8 if
    the bytes are valid UTF-8; else Windows-1252, then Latin-1, which decodes anything.
    A declaration is overruled in one case: the bytes are valid UTF-8 with non-ASCII
    characters while the page declares a legacy charset. That is a page saved by a
    crawler or browser that re-encoded it to UTF-8 and left the old meta tag in place;
    decoding it as declared would turn every accented letter into mojibake.
    """
    if encoding != "auto":
        return data.decode(encoding, errors="replace"), encoding
    bom = bom_encoding(data[:4])
    if bom:
        return data.decode(bom, errors="replace"), bom
    declared = _codec(EncodingDetector.find_declared_encoding(data, is_html=True))
    utf8 = _decode(data, "utf-8")
    if declared and declared != "utf-8":
        if utf8 is not None and not data.isascii():
            return utf8, "utf-8"
        text = _decode(data, declared)
        if text is not None:
            return text, declared
    if utf8 is not None:
        return utf8, "utf-8"
    text = _decode(data, "cp1252")
    if text is not None:
        return text, "cp1252"
    return data.decode("latin-1"), "latin-1"


def load_page(path: Path, max_bytes: int, encoding: str = "auto") -> Page:
    """Read, check and decode one page, or raise a PageError naming the reason."""
    data = read_limited(path, max_bytes)
    if not data.strip():
        raise PageError("empty-file", "the file is empty" if not data else "the file holds only whitespace")
    if is_binary(data):
        raise PageError("binary-file", "the file holds binary data (an image, PDF or archive?), not HTML")
    html, used = decode_html(data, encoding)
    html = html.lstrip("\ufeff")
    if not html.strip():
        raise PageError("empty-file", "the file holds only a byte-order mark or whitespace")
    if not HTML_TAG.search(html, 0, 65536):
        raise PageError("not-html", "no HTML tag in the first 64 KB; the file looks like plain text or another format")
    return Page(html=html, encoding=used, size=len(data))
