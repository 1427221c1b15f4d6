"""JSON text read as the standard library reads it, faster."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

#: 19 digits in a row: a number that may not fit in 64 bits, which orjson reads as a float.
_LONG_DIGITS = re.compile(r"[0-9]{19}")


def loads(line: str) -> Any:
    """``json.loads(line)``, twice as fast: orjson parses, and whatever it refuses or could read
    differently goes to the standard library, so the result (or the JSONDecodeError, with its
    message and column) is exactly json's.

    orjson refuses what json accepts beyond the JSON standard (NaN, Infinity, a lone UTF-16
    surrogate like ``"\\ud800"``, nesting past 1024 levels) and reads an integer over 64 bits as a
    float; json also raises RecursionError where it nests too deep for Python.
    """
    if _LONG_DIGITS.search(line) is None:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    return json.loads(line)
