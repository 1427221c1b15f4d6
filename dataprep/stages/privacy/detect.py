"""Find personal data and secrets in a string: a regex proposes, a check confirms.

==========  =====================================================================================
category    proposed by / confirmed by
==========  =====================================================================================
email       local@domain.tld; a file name such as ``icon@2x.png`` is not an address
phone       a run of 7+ digits; ``phonenumbers`` (libphonenumber) must find a *valid* number in
            the text for one of the configured regions (national formats) or any region (``+44 ...``)
ip          dotted quads and colon groups; :mod:`ipaddress` must parse them, and by default only
            global (public) addresses count; ``v1.2.3.4``, ``version 10.0.0.1`` and ``120.0.0.0``
            are version numbers, ``12.10.2023`` is a date (2023 is no octet)
card        13-19 digits, optionally in groups of 4 (or Amex's 4-6-5); the Luhn checksum
            (``python-stdnum``) and an issuer prefix (Visa, Mastercard, Amex, Discover, JCB,
            Diners, UnionPay) must hold
iban        country code, check digits, groups; ``python-stdnum`` checks the country's length,
            format and the mod-97 checksum
secret      provider API keys by their documented prefixes (AWS, GitHub, GitLab, Slack, Stripe,
            OpenAI, Anthropic, Google, Hugging Face, npm, SendGrid, JWTs), private-key blocks,
            ``password=``/``token:`` assignments whose value is a value and not code
            (``password = request.form["password"]`` is not a secret), and the ``user:password``
            of a URL
address     (optional) a house number and street (``221B Baker Street``, ``Hauptstraße 5``)
==========  =====================================================================================

:class:`PiiDetector` first scans the string once with an RE2 set holding each finder's necessary
condition (an ``@``, seven digits in a row, a key prefix...): a linear automaton pass, so a
string without candidates costs microseconds, and only the finders whose condition matched run.
:func:`scan_plain` runs the same finders without the gate, as the benchmark's baseline.

A detector is anything with ``categories`` and ``find(text) -> list[Finding]``; ``redact-pii``
takes extra ones by import path (see :func:`load_detector`), e.g. a person-name model.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from stdnum import iban as _iban
from stdnum import luhn as _luhn

from dataprep.errors import ConfigError

#: Built-in categories on by default, in the order they win overlaps.
CATEGORIES = ("secret", "email", "iban", "card", "ip", "phone")
#: Built-in categories that are off unless asked for.
OPTIONAL_CATEGORIES = ("address",)


class Finding(NamedTuple):
    """A span of a string that holds one category's item: ``text[start:end]``."""

    start: int
    end: int
    category: str


@runtime_checkable
class Detector(Protocol):
    """What ``redact-pii`` needs from a detector: its categories and a ``find``."""

    categories: Sequence[str]

    def find(self, text: str) -> list[Finding]: ...


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _free(text: str, start: int, end: int, extra: str = "") -> bool:
    """True when the span is not glued to a word (or to one of ``extra``) on either side."""
    if start and (_word(text[start - 1]) or text[start - 1] in extra):
        return False
    return not (end < len(text) and (_word(text[end]) or text[end] in extra))


# -- email ------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"([A-Za-z]{2,24})(?![\w-])"
)
#: "Domains" that are file extensions: ``logo@2x.png`` is an image at double resolution.
_FILE_TLDS = frozenset("png jpg jpeg gif svg webp ico bmp js css ts py json txt pdf md html".split())


def find_emails(text: str) -> Iterable[Finding]:
    for m in _EMAIL.finditer(text):
        # git@github.com:org/repo.git is an scp-style remote: a user at a host, not a mailbox.
        scp = text.startswith(":", m.end()) and m.end() + 1 < len(text) and not text[m.end() + 1].isspace()
        if m.group(1).lower() not in _FILE_TLDS and not scp:
            yield Finding(m.start(), m.end(), "email")


# -- IP addresses -----------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_VERSION_BEFORE = re.compile(
    r"(?i)\b(?:v|version|ver\.?|release|build|rev\.?|revision|firmware|kernel|linux|patch|update|sdk|driver"
    r"|python|node|java|php|ruby|perl|gcc|clang|windows|android|ios|macos|ubuntu|debian|chrome|firefox|safari)"
    r"\s*[:#]?\s*$"
)
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}:(?:[0-9A-Fa-f]{0,4}:){1,6}[0-9A-Fa-f]{0,4}")


def find_ips(text: str, private: bool = False, v4: bool = True, v6: bool = True) -> Iterable[Finding]:
    if v4:
        for m in _IPV4.finditer(text):
            start, end = m.span()
            # 1.2.3.4.5 is no address; "... at 1.2.3.4." ends a sentence.
            if start and (_word(text[start - 1]) or text[start - 1] in ".-"):
                continue
            if end < len(text) and (_word(text[end]) or text[end] == "-" or _dot_joins(text, end)):
                continue
            # A host address does not end in .0 (that names a network); versions often do (120.0.0.0).
            if m.group().endswith(".0") or _VERSION_BEFORE.search(text, max(0, start - 20), start):
                continue
            if private or ipaddress.IPv4Address(m.group()).is_global:
                yield Finding(start, end, "ip")
    if v6:
        for m in _IPV6.finditer(text):
            start, end = m.span()
            if not _free(text, start, end, ":."):
                continue
            value = m.group()
            if sum(1 for group in value.split(":") if group) < 3:
                continue
            try:
                address = ipaddress.IPv6Address(value)
            except ValueError:
                continue
            if address.is_global or (private and not address.is_unspecified):
                yield Finding(start, end, "ip")


def _dot_joins(text: str, end: int) -> bool:
    """A dot right after the match continues it (``1.2.3.4.5``) unless it ends a sentence."""
    return text[end] == "." and end + 1 < len(text) and _word(text[end + 1])


# -- payment cards ----------------------------------------------------------------------------

_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
_CARD_ISSUER = re.compile(
    r"4\d{12}(?:\d{3}){0,2}"  # Visa
    r"|(?:5[1-5]\d{2}|222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)\d{12}"  # Mastercard
    r"|3[47]\d{13}"  # American Express
    r"|(?:6011|65\d{2}|64[4-9]\d)\d{12,15}"  # Discover
    r"|35(?:2[89]|[3-8]\d)\d{12,15}"  # JCB
    r"|3(?:0[0-5]|[689]\d)\d{11,16}"  # Diners Club
    r"|62\d{14,17}"  # UnionPay
)
#: Group lengths people write card numbers in (or none: one run of digits).
_CARD_GROUPS = frozenset(
    {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3)}
)


def find_cards(text: str) -> Iterable[Finding]:
    for m in _CARD.finditer(text):
        start, end = m.span()
        if not _free(text, start, end, "-/+") or _number_goes_on(text, start, end):
            continue
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        if digits != raw:
            separators = {c for c in raw if not c.isdigit()}
            groups = tuple(len(g) for g in re.split(r"[ -]", raw))
            if len(separators) > 1 or groups not in _CARD_GROUPS:
                continue
        if _CARD_ISSUER.fullmatch(digits) and _luhn.is_valid(digits):
            yield Finding(start, end, "card")


def _number_goes_on(text: str, start: int, end: int) -> bool:
    """``1,234`` or ``3.1415``: the match is part of a longer number."""
    before = start >= 2 and text[start - 1] in ".," and text[start - 2].isdigit()
    return before or (end + 1 < len(text) and text[end] in ".," and text[end + 1].isdigit())


# -- IBAN -------------------------------------------------------------------------------------

_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?")


def find_ibans(text: str) -> Iterable[Finding]:
    for m in _IBAN.finditer(text):
        start, end = m.span()
        if start and _word(text[start - 1]):
            continue
        value = m.group()
        # The last group may have swallowed the next word ("... 3000 EUR"): try without it.
        while not (_iban.is_valid(value) and _free(text, start, start + len(value))):
            cut = value.rfind(" ")
            if cut <= 4:
                value = ""
                break
            value = value[:cut]
        if value:
            yield Finding(start, start + len(value), "iban")


# -- phone numbers ----------------------------------------------------------------------------

#: Seven digits or more, with the separators phone numbers are written with.
_PHONE_HINT = re.compile(r"\d(?:[ ().\-/]{0,2}\d){6,}")
_ISBN_BEFORE = re.compile(r"(?i)isbn(?:-1[03])?:?\s*$")
_OPERATOR_BEFORE = re.compile(r"[*/=×÷^<>]\s*$|\d\s[+-]\s*$")
_OPERATOR_AFTER = re.compile(r"\s*(?:[*/=×÷^<>]|[+-]\s\d)")


_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def find_phones(text: str, regions: Sequence[str], taken: Sequence[Finding] = ()) -> Iterable[Finding]:
    """Phone numbers near each run of digits that no stronger finding (``taken``) holds and that is no date.

    libphonenumber's matcher costs ~0.2 ms a call, so it reads a window around each run, not the text.
    """
    import phonenumbers  # the metadata is large; loaded on the first text with a digit run

    seen: set[tuple[int, int]] = set()
    for hint in _PHONE_HINT.finditer(text):
        start, end = hint.span()
        if any(f.start <= start and end <= f.end for f in taken) or _DATE.fullmatch(hint.group()):
            continue
        if _ISBN_BEFORE.search(text, max(0, start - 12), start) or sum(c.isdigit() for c in hint.group()) > 17:
            continue
        offset = max(0, start - 8)
        window = text[offset : end + 8]
        for region in regions:
            for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID):
                span = (offset + match.start, offset + match.end)
                if span in seen or not (span[0] <= end and start <= span[1]):
                    continue
                if _OPERATOR_BEFORE.search(text, max(0, span[0] - 3), span[0]) or _OPERATOR_AFTER.match(text, span[1]):
                    continue  # 12345 * 67890 - 11111 * 22222 is arithmetic
                seen.add(span)
                yield Finding(span[0], span[1], "phone")


# -- secrets ----------------------------------------------------------------------------------

_PROVIDER_KEY = re.compile(
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|APKA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,255}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub fine-grained tokens
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab personal tokens
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe secret and restricted keys
    r"|sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|npm_[A-Za-z0-9]{36}"  # npm
    r"|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"  # SendGrid
    r"|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JSON Web Tokens
)
_KEY_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_BASE64_LINES = re.compile(r"(?:\s*[A-Za-z0-9+/=]{16,})*")
_URL_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,15}://([^\s:/@]+:([^\s/@]+))@")
_ASSIGNMENT = re.compile(
    r"(?i)(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|auth|credentials?)[\"']?(?P<sep>[ \t]*(?:=>|:=|=|:)[ \t]*)(?P<q>[\"'`]?)"
    r"(?P<value>[^\s\"'`,;=(){}\[\]<>][^\s\"'`,;(){}\[\]<>]*)"
)
#: Values that hold no secret: types, literals, empty-ish words and placeholders.
_NOT_VALUES = frozenset(
    "none null nil true false undefined str string int bool bytes text optional required any object self this "
    "password passwd pass pwd secret token key example hidden redacted changeme yes no empty env".split()
)
_PLACEHOLDER = re.compile(r"(?i)(?:\*+|x+|\.+|\?+|#+|-+|\$\{?\w+\}?|%\(?\w*\)?[sd]|your[_-]?\w*|<.*>|\{.*\})")


def find_secrets(text: str) -> Iterable[Finding]:
    for m in _PROVIDER_KEY.finditer(text):
        start, end = m.span()
        if _free(text, start, end, "-") and (not m.group().startswith("sk-") or any(c.isdigit() for c in m.group())):
            yield Finding(start, end, "secret")
    if "-----BEGIN" in text:
        for m in _KEY_BEGIN.finditer(text):
            closing = text.find(f"-----END {m.group(1)}-----", m.end())
            if closing != -1:
                end = closing + len(m.group(1)) + 14
            else:  # a cut-off key: the base64 lines that follow
                end = _BASE64_LINES.match(text, m.end()).end()
            yield Finding(m.start(), end, "secret")
    if "://" in text:
        for m in _URL_CREDENTIALS.finditer(text):
            if not _is_placeholder(m.group(2)):
                yield Finding(m.start(1), m.end(1), "secret")
    for m in _ASSIGNMENT.finditer(text):
        # The keyword starts a name or ends one after _ or - (DB_PASSWORD, x-api-key), not "mytokens".
        if (m.start() == 0 or not text[m.start() - 1].isalnum()) and _is_value(m):
            yield Finding(m.start("value"), m.end("value"), "secret")


def _is_placeholder(value: str) -> bool:
    return value.lower() in _NOT_VALUES or _PLACEHOLDER.fullmatch(value) is not None or len(set(value)) == 1


def _is_value(m: re.Match[str]) -> bool:
    """Whether an assignment's right-hand side is a literal secret rather than code or a placeholder."""
    value, quoted, sep = m.group("value"), bool(m.group("q")), m.group("sep")
    if quoted:
        closing = m.end("value")
        if closing >= len(m.string) or m.string[closing] != m.group("q"):
            return False  # "password = 'a b c'": a sentence, not a token
    if len(value) < 4 or _is_placeholder(value):
        return False
    if quoted:
        return True
    if "." in value and re.fullmatch(r"[A-Za-z_][\w.]*", value):
        return False  # os.environ, settings.DB_PASSWORD, self.password
    if m.string[m.end("value") : m.end("value") + 1] in ("(", "["):
        return False  # a call or an index: get_password(), form["password"]
    if "=" in sep and sep != sep.strip():
        # Code style ("password = hunter"): a bare word is a variable; a value has a digit or a symbol.
        return not re.fullmatch(r"[A-Za-z_]\w*", value) or any(c.isdigit() for c in value)
    return True


# -- street addresses (optional) --------------------------------------------------------------

_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Terrace|Way|Close"
    r"|Crescent|Square|Sq|Parkway|Highway|Hwy"
)
_ADDRESS = re.compile(
    rf"\d{{1,5}}[A-Za-z]?,? (?:[A-Z][a-z]+\.? ){{1,4}}(?:{_STREET})\b\.?"
    r"(?:,? (?:Apt|Suite|Unit|Flat)\.? ?\w+)?"
    r"|[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm) \d{1,4}[a-z]?\b"
    r"|\d{1,4},? (?:rue|avenue|boulevard|place|chemin|allée) (?:de |du |des |de la |d')?[A-Z][\w'-]+"
)


def find_addresses(text: str) -> Iterable[Finding]:
    for m in _ADDRESS.finditer(text):
        if m.start() == 0 or not _word(text[m.start() - 1]):
            yield Finding(m.start(), m.end(), "address")


# -- all together -----------------------------------------------------------------------------

#: Necessary conditions, one per finder, scanned together in one pass of RE2's automaton: a string
#: gets only the finders whose condition it meets. Each one must match wherever its finder could.
_GATES = {
    "secret": r"AKIA|ASIA|AGPA|AIDA|AROA|ANPA|APKA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|[sr]k_(?:live|test)_"
    r"|sk-|AIza|hf_|npm_|SG\.|eyJ|-----BEGIN|://|(?i:password|passwd|passphrase|pwd|secret|token|api[_-]?key"
    r"|apikey|access[_-]?key|private[_-]?key|auth|credential)[\"']?[ \t]*[=:]",
    "email": r"@",
    "iban": r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2}",
    "card": r"\d(?:[ -]?\d){12}",
    "ipv4": r"\d\.\d{1,3}\.\d{1,3}\.\d",
    "ipv6": r":[0-9A-Fa-f]{0,4}:",
    "phone": _PHONE_HINT.pattern,
    "address": r"\d",
}


class PiiDetector:
    """The built-in categories: ``find(text)`` gives non-overlapping findings in text order."""

    def __init__(
        self,
        categories: Sequence[str] = CATEGORIES,
        phone_regions: Sequence[str] = ("US",),
        private_ips: bool = False,
    ) -> None:
        import re2

        unknown = sorted(set(categories) - set(CATEGORIES) - set(OPTIONAL_CATEGORIES))
        if unknown:
            raise ConfigError(
                f"unknown PII categories {', '.join(unknown)}; the built-in ones are "
                f"{', '.join(CATEGORIES + OPTIONAL_CATEGORIES)}."
            )
        self.categories = tuple(c for c in CATEGORIES + OPTIONAL_CATEGORIES if c in categories)
        self.regions = tuple(phone_regions)
        self.private_ips = private_ips
        wanted = {"ipv4", "ipv6"} if "ip" in self.categories else set()
        self._gates = [name for name in _GATES if name in self.categories or name in wanted]
        self._set = re2.Set.SearchSet(re2.Options())
        for name in self._gates:
            self._set.Add(_GATES[name])
        self._set.Compile()

    def find(self, text: str) -> list[Finding]:
        hits = self._set.Match(text)
        if not hits:
            return []
        gates = {self._gates[k] for k in hits}
        found: list[Finding] = []
        if "secret" in gates:
            found.extend(find_secrets(text))
        if "email" in gates:
            found.extend(find_emails(text))
        if "iban" in gates:
            found.extend(find_ibans(text))
        if "card" in gates:
            found.extend(find_cards(text))
        if "ipv4" in gates or "ipv6" in gates:
            found.extend(find_ips(text, self.private_ips, v4="ipv4" in gates, v6="ipv6" in gates))
        if "phone" in gates:
            found.extend(find_phones(text, self.regions, found))
        if "address" in gates:
            found.extend(find_addresses(text))
        return resolve(found) if len(found) > 1 else found


def scan_plain(text: str, regions: Sequence[str] = ("US",)) -> list[Finding]:
    """The default categories' regexes and checks over the whole string, ungated: the benchmark's baseline."""
    found: list[Finding] = []
    found.extend(find_secrets(text))
    found.extend(find_emails(text))
    found.extend(find_ibans(text))
    found.extend(find_cards(text))
    found.extend(find_ips(text))
    found.extend(find_phones(text, regions, found))
    return resolve(found) if len(found) > 1 else found


#: Lower wins an overlap: a card number is not also a phone number.
_PRIORITY = {category: rank for rank, category in enumerate(CATEGORIES + OPTIONAL_CATEGORIES)}


def resolve(findings: list[Finding]) -> list[Finding]:
    """Drop findings that overlap one of a stronger category (or an earlier, longer one of the same)."""
    ranked = sorted(findings, key=lambda f: (_PRIORITY.get(f.category, len(_PRIORITY)), f.start, f.start - f.end))
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept)


def load_detector(spec: str) -> Detector:
    """A detector from ``package.module:factory``: the factory (a class or a function) is called with no
    arguments and must return an object with ``categories`` and ``find(text)``."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"detector {spec!r}: write it as package.module:factory, e.g. mypkg.names:NameDetector.")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"detector {spec!r}: cannot import it ({exc}); is its package installed?") from exc
    detector = factory()
    if not isinstance(detector, Detector) or not detector.categories:
        raise ConfigError(f"detector {spec!r}: it must have a non-empty `categories` and a `find(text)` method.")
    return detector
