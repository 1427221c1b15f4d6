"""What ``extract-sql --list-tables`` prints: each table with its row count and columns."""

from __future__ import annotations

import json
from typing import Any


def format_listing(dumps: list[dict[str, Any]], as_json: bool = False) -> str:
    """Text (or JSON) for :meth:`Dump.describe` results, one block per dump."""
    if as_json:
        return json.dumps(dumps, indent=2, ensure_ascii=False)
    blocks = []
    for dump in dumps:
        tables = dump["tables"]
        rows = sum(t["rows"] for t in tables)
        problems = dump["problems"]
        lines = [
            f"{dump['file']}: {dump['dialect']}, {len(tables)} table{'s' * (len(tables) != 1)}, "
            f"{rows} row{'s' * (rows != 1)}, {len(problems)} problem{'s' * (len(problems) != 1)}"
        ]
        if tables:
            name_width = max(len("table"), *(len(t["name"]) for t in tables))
            row_width = max(len("rows"), *(len(str(t["rows"])) for t in tables))
            lines.append(f"  {'table':<{name_width}}  {'rows':>{row_width}}  columns")
            for t in tables:
                lines.append(f"  {t['name']:<{name_width}}  {t['rows']:>{row_width}}  {', '.join(t['columns'])}")
                if t.get("personal"):
                    marks = ", ".join(f"{p['column']} ({p['kind']}, by {'+'.join(p['by'])})" for p in t["personal"])
                    lines.append(f"  {'':<{name_width}}  {'':>{row_width}}  personal data? {marks}")
        for problem in problems:
            lines.append(f"  problem: {problem['reason']}: {problem['detail']}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
