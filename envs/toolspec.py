"""Tool schemas from Python methods: type hints + Google-style docstrings -> OpenAI JSON schema.

A simulated API's public methods are its tools. This module reads each method once (per class, cached)
and produces its OpenAI-form schema, a compiled argument validator (envs.argcheck) and the converters
that turn JSON arguments into the Python values the method's hints ask for (ISO strings -> `date`,
objects -> dataclasses). The schema is therefore never written twice.

Type mapping: str/int/float/bool -> string/integer/number/boolean; `Literal[...]` -> enum; `list[X]` ->
array with items; `dict[str, X]` -> object; TypedDict / dataclass -> nested object; `datetime.date` ->
string with format "date"; `X | None` -> X (nullability comes from a `None` default); `Annotated[X, Schema(..)]`
adds JSON-schema keywords to X's schema (bounds such as `Schema(minimum=0)`).
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin

from envs.argcheck import compile_parameters

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SECTION = re.compile(
    r"(Args|Arguments|Parameters|Attributes|Returns|Yields|Raises|Examples?|Notes?|Warnings?):\s*$"
)
_ITEM = re.compile(r"(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class Schema:
    """Extra JSON-schema keywords for a parameter, e.g. `Annotated[int, Schema(minimum=1, maximum=5)]`.

    (A dict would do, but `Annotated` metadata must be hashable for `X | None` to work.)
    """

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, repr(v)) for k, v in self.keywords.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and other.keywords == self.keywords

    def __repr__(self) -> str:
        return f"Schema({', '.join(f'{k}={v!r}' for k, v in self.keywords.items())})"


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Splits a Google-style docstring into its description and its per-name descriptions.

    Args:
        doc: The docstring (raw `__doc__`).

    Returns:
        The text before the first section (paragraphs joined by spaces), and a dict mapping each name
        under `Args:` (or `Attributes:` for TypedDicts and dataclasses) to its description.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    names: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    item_indent: int | None = None
    for line in lines:
        stripped = line.strip()
        m = _SECTION.match(line)
        if m:  # a section header sits at column 0 after cleandoc
            section, current, item_indent = m.group(1), None, None
            continue
        if section is None:
            if stripped:
                summary.append(stripped)
            continue
        if section not in ("Args", "Arguments", "Parameters", "Attributes") or not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        item = _ITEM.match(stripped)
        if item and (item_indent is None or indent <= item_indent):
            item_indent = indent
            current = item.group(1).lstrip("*")
            names[current] = item.group(2).strip()
        elif current is not None:  # a continuation line of the current item
            names[current] = (names[current] + " " + stripped).strip()
    return " ".join(summary), names


def type_schema(tp: Any) -> dict[str, Any]:
    """The JSON schema of a Python type hint.

    Raises:
        TypeError: for hints that have no faithful JSON form (unions of several types, sets, ...).
    """
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extras = get_args(tp)
        schema = type_schema(base)
        for extra in extras:
            if isinstance(extra, Schema):
                schema.update(extra.keywords)
            elif isinstance(extra, dict):
                schema.update(extra)
        return schema
    if origin in (Required, NotRequired):
        return type_schema(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unions of several types have no single JSON type: {tp!r}")
        return type_schema(args[0])
    if origin is Literal:
        values = list(get_args(tp))
        kinds = {_SCALARS.get(type(v)) for v in values}
        if len(kinds) != 1 or None in kinds:
            raise TypeError(f"Literal values must share one scalar type: {tp!r}")
        return {"type": kinds.pop(), "enum": values}
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        args = get_args(tp)
        schema: dict[str, Any] = {"type": "array"}
        if args and args[0] is not Ellipsis:
            schema["items"] = type_schema(args[0])
        return schema
    if origin is dict or tp is dict:
        args = get_args(tp)
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = type_schema(args[1])
        return schema
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if tp is datetime.date:
        return {"type": "string", "format": "date"}
    if tp is Any:
        return {}
    if typing.is_typeddict(tp) or dataclasses.is_dataclass(tp):
        return _object_schema(tp)
    raise TypeError(f"unsupported type hint for a tool parameter: {tp!r}")


def _object_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    _, docs = parse_docstring(cls.__doc__)  # field descriptions come from an `Attributes:` section
    if typing.is_typeddict(cls):
        # `__required_keys__` misses NotRequired[...] when annotations are strings (PEP 563), so the
        # resolved hints decide.
        required = [k for k, h in hints.items() if get_origin(h) is Required
                    or (get_origin(h) is not NotRequired and k in cls.__required_keys__)]
        defaults: dict[str, Any] = {}
    else:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        required = [k for k, f in fields.items() if _field_default(f) is inspect.Parameter.empty]
        defaults = {k: _field_default(f) for k, f in fields.items() if k not in required}
    props = {}
    for name, hint in hints.items():
        prop = type_schema(hint)
        if docs.get(name):
            prop["description"] = docs[name]
        if name in defaults:
            prop["default"] = defaults[name]
        props[name] = prop
    return {"type": "object", "properties": props, "required": required}


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return inspect.Parameter.empty


# ---------------------------------------------------------------------------------------------------
# Converters: JSON argument values -> the Python values a method's hints ask for
# ---------------------------------------------------------------------------------------------------


def converter(tp: Any) -> Callable[[Any], Any] | None:
    """A function turning a validated JSON value into the hinted Python value, or None if none is needed."""
    origin = get_origin(tp)
    if origin in (Annotated, Required, NotRequired):
        return converter(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        inner = converter(next(a for a in get_args(tp) if a is not type(None)))
        return None if inner is None else (lambda v: None if v is None else inner(v))
    if tp is datetime.date:
        return datetime.date.fromisoformat
    if tp is float:  # JSON has one number type: 5 and 5.0 must leave the same state
        return float
    if origin in (list, tuple, Sequence):
        args = get_args(tp)
        inner = converter(args[0]) if args else None
        return None if inner is None else (lambda v: [inner(x) for x in v])
    if dataclasses.is_dataclass(tp) or typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        fields = {k: c for k, h in hints.items() if (c := converter(h)) is not None}
        if dataclasses.is_dataclass(tp):
            return lambda v: tp(**{k: fields[k](x) if k in fields else x for k, x in v.items()})
        if fields:
            return lambda v: {k: fields[k](x) if k in fields else x for k, x in v.items()}
    return None


# ---------------------------------------------------------------------------------------------------
# Tool specs of a class
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its schema, its validator and how to call the method behind it.

    Attributes:
        name: The tool (= method) name.
        schema: OpenAI-form schema `{"type": "function", "function": {...}}`.
        fn: The unbound method; called as `fn(api, **arguments)`.
        validate: Returns an error message for bad arguments, or None.
        converters: Per-parameter converters applied after validation.
        readonly: True when the method never changes state (lets the env skip its state snapshot).
    """

    name: str
    schema: dict[str, Any]
    fn: Callable[..., Any]
    validate: Callable[[Any], str | None]
    converters: dict[str, Callable[[Any], Any]]
    readonly: bool


def function_schema(fn: Callable[..., Any], name: str | None = None) -> dict[str, Any]:
    """The OpenAI-form schema of a function (or method; `self` is skipped)."""
    description, docs = parse_docstring(fn.__doc__)
    hints = typing.get_type_hints(fn, include_extras=True)
    props: dict[str, Any] = {}
    required: list[str] = []
    for pname, param in inspect.signature(fn).parameters.items():
        if pname == "self":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{fn.__qualname__}: tool parameters must be plain named parameters ({pname})")
        if pname not in hints:
            raise TypeError(f"{fn.__qualname__}: parameter {pname!r} has no type hint")
        prop = type_schema(hints[pname])
        if docs.get(pname):
            prop["description"] = docs[pname]
        if param.default is param.empty:
            required.append(pname)
        else:
            prop["default"] = param.default
        props[pname] = prop
    return {
        "type": "function",
        "function": {
            "name": name or fn.__name__,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


def readonly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a tool method as read-only: it must never change state (envs.check_env verifies it)."""
    fn.__readonly__ = True  # type: ignore[attr-defined]
    return fn


_CACHE: dict[type, dict[str, ToolSpec]] = {}


def class_tools(cls: type, base: type | None = None) -> dict[str, ToolSpec]:
    """The tools of a class: its public methods (defined below `base`), in definition order. Cached."""
    cached = _CACHE.get(cls)
    if cached is not None:
        return cached
    specs: dict[str, ToolSpec] = {}
    skip = set(dir(base)) if base is not None else set()
    for klass in reversed(cls.__mro__):
        if klass is object or (base is not None and issubclass(base, klass)):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_") or name in skip or not inspect.isfunction(attr):
                continue
            schema = function_schema(attr)
            hints = typing.get_type_hints(attr, include_extras=True)
            convs = {p: c for p, h in hints.items() if p != "return" and (c := converter(h)) is not None}
            specs[name] = ToolSpec(
                name=name,
                schema=schema,
                fn=attr,
                validate=compile_parameters(schema["function"]["parameters"]),
                converters=convs,
                readonly=getattr(attr, "__readonly__", False),
            )
    _CACHE[cls] = specs
    return specs
