"""An argparse parser generated from typed config dataclasses (the shape of HfArgumentParser).

Every field becomes ``--field-name`` (or its ``flag`` metadata), typed from its annotation, with
its dataclass default and help text; a nested dataclass field becomes an argument group.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path


def _base_type(annotation):
    """(type, optional): int for ``int | None``, (str, ...) for ``tuple[str, ...]``."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return annotation, False


def _convert(tp):
    if typing.get_origin(tp) is tuple:
        return lambda s: tuple(x.strip() for x in s.split(",") if x.strip())
    return {Path: Path, int: int, float: float, str: str}[tp]


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()


def _shown(value) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


def add_dataclass(parser, cls, prefix: str = "") -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, _ = _base_type(hints[f.name])
        if dataclasses.is_dataclass(tp):
            add_dataclass(parser.add_argument_group(f.name.upper()), tp, prefix=f"{f.name}.")
            continue
        default = _default(f)
        help_text = f.metadata.get("help", "")
        if default is not None and "default" not in help_text:
            help_text += f" (default {_shown(default)})"
        extra = {"nargs": "?", "const": f.metadata["const"]} if "const" in f.metadata else {}
        parser.add_argument(f.metadata.get("flag", "--" + f.name.replace("_", "-")), dest=prefix + f.name,
                            type=_convert(tp), choices=f.metadata.get("choices"), default=default, help=help_text,
                            metavar=None if f.metadata.get("choices") else f.name.upper(), **extra)


def build(cls, namespace: argparse.Namespace, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        tp, _ = _base_type(hints[f.name])
        values[f.name] = (build(tp, namespace, f"{f.name}.") if dataclasses.is_dataclass(tp)
                          else getattr(namespace, prefix + f.name))
    return cls(**values)
