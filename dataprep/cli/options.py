"""Click options generated from a stage's pydantic config.

Each config field becomes one option: ``text_column`` in YAML is
``--text-column`` on the command line, with the field's description as help.
Validation happens in pydantic, in one place for both the CLI and pipelines.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal

import click
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from dataprep.errors import ConfigError


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip_optional(args[0])
    return annotation


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(info: FieldInfo) -> str:
    if info.default is PydanticUndefined:
        if info.default_factory is not None:
            value = info.default_factory()  # type: ignore[call-arg]
        else:
            return ""
    else:
        value = info.default
    if value is None or value == [] or value == {}:
        return ""
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, dict):
        value = ",".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return f" [default: {value}]"


def option_for(name: str, info: FieldInfo) -> click.Option:
    """One click option for one config field, named after its alias when it has one."""
    annotation = _strip_optional(info.annotation)
    origin = typing.get_origin(annotation)
    help_text = (info.description or "") + _default_text(info)
    shown = info.alias or name
    if annotation is bool:
        return click.Option(
            [f"{flag(shown)}/--no-{shown.replace('_', '-')}", name], default=None, help=help_text, show_default=False
        )
    if origin is Literal:
        choices = [str(c) for c in typing.get_args(annotation)]
        return click.Option([flag(shown), name], type=click.Choice(choices), default=None, help=help_text)
    if origin in (list, tuple, set):
        return click.Option([flag(shown), name], multiple=True, default=None, help=help_text + " (repeatable)")
    if origin is dict:
        return click.Option(
            [flag(shown), name], multiple=True, default=None, metavar="KEY=VALUE", help=help_text + " (repeatable)"
        )
    kinds = {int: click.INT, float: click.FLOAT, str: click.STRING, Path: click.Path()}
    return click.Option([flag(shown), name], type=kinds.get(annotation, click.STRING), default=None, help=help_text)


def config_options(config_cls: type[BaseModel]) -> list[click.Option]:
    return [option_for(name, info) for name, info in config_cls.model_fields.items()]


def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def config_from_options(config_cls: type[BaseModel], values: dict[str, Any], command: str) -> BaseModel:
    """Build the config from the options the user gave; report errors by option name."""
    data: dict[str, Any] = {}
    for name, info in config_cls.model_fields.items():
        value = values.get(name)
        if value is None or value == ():
            continue
        annotation = _strip_optional(info.annotation)
        origin = typing.get_origin(annotation)
        if origin is dict:
            # Values typed str stay verbatim: YAML would read a CSS selector like '#answer' as a comment.
            value_types = typing.get_args(annotation)
            raw_strings = len(value_types) == 2 and value_types[1] is str
            parsed = {}
            for item in value:
                key, sep, raw = str(item).partition("=")
                if not sep:
                    raise ConfigError(f"{command} {flag(name)} {item!r}: expected KEY=VALUE.")
                parsed[key.strip()] = raw if raw_strings else _parse_scalar(raw)
            value = parsed
        elif origin in (list, tuple, set):
            value = list(value)
        elif isinstance(value, str) and annotation not in (str, Path) and origin is not Literal:
            value = _parse_scalar(value)
        data[name] = value
    try:
        return config_cls.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = error["loc"]
            option = flag(str(loc[0])) if loc else command
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "this option is required"
            lines.append(f"{command} {option}: {message}")
        raise ConfigError("\n".join(lines)) from exc
