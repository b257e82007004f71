"""Command lines generated from settings dataclasses (the shape of Hugging Face's ``HfArgumentParser``).

Every field of a settings dataclass becomes an option, ``--field-name``, typed from its annotation,
with its default and its help text; a field whose type is a dataclass becomes an argument group
of that class's fields. A field says the rest in its ``metadata``:

- ``help``: the help text; the default is added unless the text speaks of the default itself.
- ``flag``: the option's name where it is not the field's; ``positional``: an argument without a
  name (required unless the field has a default).
- ``choices``: the values allowed (for a list, each item); a ``Literal[...]`` annotation says the same.
- ``const``: the value of the option given alone (``--mask-words`` without a file).
- ``repeat``: a ``tuple[X, ...]`` given once per item (``--where a=1 --where b=2``), where an item
  may hold a comma, instead of as one comma-separated list.
- ``min``, ``max``: the bounds of a number, refused in one line before any work.
- ``finite``: False lets a float be ``nan`` or ``inf`` (refused otherwise, wherever a float is read).
- ``empty``: False refuses an empty text or path where it would otherwise mean none (see Types).
- ``cli``: False keeps the field off the command line (its dataclass default is used).
- ``default``: a default in place of the dataclass's (given for a group's member, see below).
- on a group's field, ``title`` (the group's heading; default: the field's name in capitals) and
  ``fields`` ({member: metadata}) that add to its members' metadata: a settings class of a lower
  layer holds no command-line wording of its own, and a command may default a shared option otherwise.

Types: str, int, float, Path, bool (``--flag``/``--no-flag``), ``X | None`` (an empty str or Path
is None, as ``--title-col ""`` is no column), ``tuple[X, ...]`` (comma-separated: ``--models nb,lr``)
and ``Literal``. An empty (or blank) value for a Path that cannot be None is refused: it would
silently mean the current folder. A float is never ``nan`` or ``inf`` unless its field allows it.
A field without a default is required. Defaults are read when the parser is built, so a default
that comes from the environment (``default_models_dir``) is the one of that moment.

After parsing, the bounds and every settings object's ``problems()`` (sentences naming what cannot
work) are checked; the first is refused with ``parser.error`` (usage, one error line, status 2).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

_MISSING = dataclasses.MISSING
_SCALARS = (str, int, float, Path)


def option(default: Any = _MISSING, help: str = "", **meta) -> Any:
    """A settings field with its help text and metadata; a callable default is called for each
    parser (and each instance), a missing one makes the option required."""
    metadata = {"help": help, **meta}
    if callable(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def group(cls: type, title: str | None = None, fields: dict[str, dict] | None = None) -> Any:
    """A field that holds a settings dataclass: its options form one argument group. ``fields``
    adds to its members' metadata, a ``default`` there included (the bench scripts' own default
    ``--models``); the group is required when a member is."""
    fields = fields or {}
    overrides = {name: meta["default"] for name, meta in fields.items() if "default" in meta}
    complete = all(f.name in overrides or f.default is not _MISSING or f.default_factory is not _MISSING
                   for f in dataclasses.fields(cls) if f.init)
    metadata = {"title": title, "fields": fields}
    if not complete:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default_factory=functools.partial(cls, **overrides), metadata=metadata)


@dataclasses.dataclass(frozen=True)
class _Spec:
    """One field as the command line sees it."""

    field: dataclasses.Field
    type: Any  # without ``| None``
    optional: bool
    meta: dict

    @property
    def flag(self) -> str:
        return self.meta.get("flag") or "--" + self.field.name.replace("_", "-")

    @property
    def is_group(self) -> bool:
        return dataclasses.is_dataclass(self.type)

    @property
    def shown(self) -> bool:
        return self.meta.get("cli", True)


def _specs(cls, extra: dict[str, dict] | None = None) -> Iterator[_Spec]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp, optional = _without_none(hints[f.name])
        yield _Spec(f, tp, optional, {**f.metadata, **(extra or {}).get(f.name, {})})


def _without_none(annotation) -> tuple[Any, bool]:
    """(int, True) for ``int | None``; the annotation itself and False otherwise."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"{annotation} is not a type the command line can read (one type, or it | None)")
        return inner[0], True
    return annotation, False


def _reader(tp, choices=None, finite: bool = True) -> Callable[[str], Any]:
    """The function argparse turns the option's text into a value with (``finite``: a float must be)."""
    if typing.get_origin(tp) is tuple:
        item_type, *rest = typing.get_args(tp)
        if rest != [Ellipsis]:
            raise TypeError(f"{tp} is not a list the command line can read: write tuple[X, ...]")
        return _comma_list(_reader(item_type, finite=finite), choices)
    if typing.get_origin(tp) is Literal:
        return type(typing.get_args(tp)[0])
    if tp is float and finite:
        return _finite_float
    if tp in _SCALARS:
        return tp
    raise TypeError(f"{tp!r} is not a type the command line can read")


def _finite_float(text: str) -> float:
    """A float that is a number: Python reads "nan" and "inf" as floats, which no bound or
    training step can use (every comparison with nan is False, so it passes any bound)."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


_finite_float.__name__ = "float"  # argparse's "invalid float value: 'x'"


def _comma_list(item: Callable[[str], Any], choices) -> Callable[[str], tuple]:
    def read(text: str) -> tuple:
        values = tuple(item(part.strip()) for part in text.split(",") if part.strip())
        wrong = [v for v in values if choices is not None and v not in choices]
        if wrong:
            raise argparse.ArgumentTypeError(f"{', '.join(map(str, wrong))}: choose among "
                                             f"{', '.join(map(str, choices))}")
        return values

    read.__name__ = f"comma-separated {getattr(item, '__name__', 'value')} list"  # named in argparse's errors
    return read


def _given(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """A text or path that may not be empty: ``--out ""`` would be the current folder, and
    ``--cache-dir ""`` the default cache, neither of which the user typed."""
    def read_given(text: str):
        if not text.strip():
            raise argparse.ArgumentTypeError("expected a value, got an empty one")
        return read(text)

    read_given.__name__ = getattr(read, "__name__", "value")
    return read_given


def _text_reader(spec: _Spec, read: Callable[[str], Any]) -> Callable[[str], Any]:
    """How a str or Path option reads an empty value: refused (a Path that cannot be None, or
    ``empty`` False), None (an optional one), or as given (a required text)."""
    if spec.meta.get("empty", True) is False or (read is Path and not spec.optional):
        return _given(read)
    return _or_none(read) if spec.optional else read


def _or_none(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """An optional text or path given empty is none, as ``--title-col ""`` names no column."""
    def read_optional(text: str):
        return None if text == "" else read(text)

    read_optional.__name__ = getattr(read, "__name__", "value")
    return read_optional


def _choices(spec: _Spec):
    if typing.get_origin(spec.type) is Literal:
        return typing.get_args(spec.type)
    return tuple(spec.meta["choices"]) if spec.meta.get("choices") is not None else None


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _help(spec: _Spec, default) -> str:
    text = spec.meta.get("help", "")
    if default not in (_MISSING, None, "", ()) and "default" not in text:
        text = f"{text} (default {_shown(default)})".strip()
    return text.replace("%", "%%")  # argparse reads help as a %-format


def _argument(spec: _Spec, dest: str, default) -> tuple[list[str], dict]:
    """add_argument's names and keywords for one field."""
    kw: dict[str, Any] = {"help": _help(spec, default)}
    if spec.meta.get("repeat"):  # one item per use of the flag: argparse appends them to a list
        item = _reader(typing.get_args(spec.type)[0], finite=spec.meta.get("finite", True))
        kw.update(action="append", type=_given(item) if item is str else item,
                  metavar=spec.meta.get("metavar", spec.field.name.upper()), dest=dest, default=None)
        return [spec.flag], kw
    if spec.type is bool:
        names, kw["action"] = [spec.flag], argparse.BooleanOptionalAction
    else:
        choices = _choices(spec)
        read = _reader(spec.type, choices, spec.meta.get("finite", True))
        kw["type"] = _text_reader(spec, read) if read in (str, Path) else read
        if choices is not None and typing.get_origin(spec.type) is not tuple:
            kw["choices"] = choices
        elif choices is not None:  # a list: argparse would compare the whole tuple with each choice
            kw["metavar"] = "{" + ",".join(map(str, choices)) + "},..."
        else:
            kw["metavar"] = spec.meta.get("metavar", spec.field.name.upper())
        if "const" in spec.meta:
            kw.update(nargs="?", const=spec.meta["const"])
        names = [spec.flag]
    if spec.meta.get("positional"):
        names = [dest]
        kw["metavar"] = spec.field.name
        if default is not _MISSING:
            kw.update(nargs="?", default=default)
        return names, kw
    kw["dest"] = dest
    if default is _MISSING:
        kw["required"] = True
    else:
        kw["default"] = default
    return names, kw


def _default_of(spec: _Spec) -> Any:
    """The field's default (a ``default`` in its metadata first); ``_MISSING`` when it is required."""
    f = spec.field
    if "default" in spec.meta:
        return spec.meta["default"]
    if f.default is not _MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not _MISSING else _MISSING


def add_dataclass(parser: argparse.ArgumentParser, cls, prefix: str = "", extra: dict[str, dict] | None = None,
                  into=None) -> None:
    """Add an option for every field of ``cls`` to ``parser`` (``into`` one of its argument groups),
    and an argument group for every field that holds a settings dataclass."""
    into = into or parser
    for spec in _specs(cls, extra):
        if not spec.shown:
            continue
        if spec.is_group:
            heading = parser.add_argument_group(spec.meta.get("title") or spec.field.name.upper())
            add_dataclass(parser, spec.type, f"{prefix}{spec.field.name}.", spec.meta.get("fields"), heading)
            continue
        names, kw = _argument(spec, prefix + spec.field.name, _default_of(spec))
        into.add_argument(*names, **kw)


def build(cls, namespace: argparse.Namespace, prefix: str = "", extra: dict[str, dict] | None = None):
    """The settings object the parsed ``namespace`` holds (a field off the command line: its default)."""
    values = {}
    for spec in _specs(cls, extra):
        name = prefix + spec.field.name
        if not spec.shown:
            if "default" in spec.meta:
                values[spec.field.name] = spec.meta["default"]
        elif spec.is_group:
            values[spec.field.name] = build(spec.type, namespace, name + ".", spec.meta.get("fields"))
        elif spec.meta.get("repeat"):  # a list of the items given, or the field's default when none was
            given = getattr(namespace, name)
            values[spec.field.name] = tuple(given) if given is not None else _default_of(spec)
        else:
            values[spec.field.name] = getattr(namespace, name)
    return cls(**values)


def _out_of_bounds(spec: _Spec, value) -> str | None:
    if isinstance(value, float) and not math.isfinite(value) and spec.meta.get("finite", True):
        return f"{spec.flag} must be a finite number"  # a default or a value set in code, not read
    low, high = spec.meta.get("min"), spec.meta.get("max")
    if value is None or (low is None or value >= low) and (high is None or value <= high):
        return None
    if low is not None and high is not None:
        return f"{spec.flag} must be between {low} and {high}"
    return f"{spec.flag} must be at least {low}" if low is not None else f"{spec.flag} must be at most {high}"


def problems(settings, extra: dict[str, dict] | None = None) -> list[str]:
    """What cannot work in ``settings``: its numbers out of bounds, its own ``problems()``, then
    its groups'; each sentence once (a class may already repeat its groups' problems)."""
    found: list[str] = []
    groups = []
    for spec in _specs(type(settings), extra):
        value = getattr(settings, spec.field.name)
        if spec.is_group and value is not None:
            groups.append((value, spec.meta.get("fields")))
        elif spec.shown:
            found += [p for p in [_out_of_bounds(spec, value)] if p]
    found += settings.problems() if hasattr(settings, "problems") else []
    for value, members in groups:
        found += problems(value, members)
    return list(dict.fromkeys(found))


def parser_for(cls, prog: str | None = None, description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_dataclass(parser, cls)
    return parser


def parse(cls, argv=None, prog: str | None = None, description: str | None = None):
    """The settings ``argv`` asks for; a request that cannot work exits (status 2) with one line."""
    parser = parser_for(cls, prog, description)
    return _checked(parser, cls, parser.parse_args(argv))


def parse_known(cls, argv=None, prog: str | None = None, description: str | None = None):
    """(settings, the arguments left over), for a command that passes those on to another."""
    parser = parser_for(cls, prog, description)
    namespace, rest = parser.parse_known_args(argv)
    return _checked(parser, cls, namespace), rest


def _checked(parser: argparse.ArgumentParser, cls, namespace: argparse.Namespace):
    settings = build(cls, namespace)
    for problem in problems(settings)[:1]:
        parser.error(problem)
    return settings
