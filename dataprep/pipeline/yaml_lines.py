"""Load YAML while remembering the line of every key, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dataprep.errors import ConfigError

Loc = tuple[str | int, ...]


def load_with_lines(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path`` and return (data, {location: line number})."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such pipeline file.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text.") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: not valid YAML ({problem}).") from exc
    except RecursionError:
        raise ConfigError(f"{path}: lists or mappings nest too deeply to be a pipeline file.") from None
    lines: dict[Loc, int] = {}
    if node is None:
        return None, lines
    try:
        return _convert(node, (), lines), lines
    except RecursionError:
        raise ConfigError(f"{path}: lists or mappings nest too deeply to be a pipeline file.") from None
    except _ComplexKey as exc:
        raise ConfigError(
            f"{path} line {exc.line}: a key is a list or a mapping ({exc.text}); keys must be plain names, "
            "as in `inputs: [a.csv]`."
        ) from None


class _ComplexKey(Exception):
    def __init__(self, line: int, text: str) -> None:
        super().__init__(line, text)
        self.line, self.text = line, text


def _convert(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                # PyYAML builds `? [a, b]` keys as lists, which no dict can hold.
                shown = "[...]" if isinstance(key_node, yaml.SequenceNode) else "{...}"
                raise _ComplexKey(key_node.start_mark.line + 1, shown)
            key = yaml.SafeLoader(" ").construct_object(key_node)
            if isinstance(key, str):
                key = key.replace("-", "_")
            lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, (*loc, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*loc, i), lines) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, or of its nearest parent that has one."""
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())
