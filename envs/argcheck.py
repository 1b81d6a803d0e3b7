"""Argument validation against a tool's JSON schema, compiled once into closures.

The environments check every call here before a method runs, so malformed calls never reach the
simulated API (and never touch its state). The validator covers the JSON-schema subset that tool
schemas use in practice: type (or a list of types), enum, format "date", minimum/maximum,
minLength/maxLength, minItems/maxItems, pattern, items, properties/required. BFCL's own type names
(`float`, `dict`, `tuple`, `any`) are accepted too, via `x-bfcl-type` or directly.

Besides the schema, every value obeys the environment's size limits (`MAX_STRING`, `MAX_ITEMS`,
`MAX_ABS_NUMBER`): a model must not be able to make a call slow or a state huge by passing a
gigantic string or number.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], "str | None"]

MAX_STRING = 10_000
MAX_ITEMS = 1_000
MAX_ABS_NUMBER = 1e15

_TYPE_ALIASES = {"float": "number", "dict": "object", "tuple": "array", "any": None, "str": "string",
                 "int": "integer", "bool": "boolean", "list": "array"}
_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object",
          type(None): "null"}


def type_name(v: Any) -> str:
    """The JSON type name of a value, for error messages."""
    return _NAMES.get(type(v), type(v).__name__)


def compile_parameters(schema: dict[str, Any]) -> Callable[[Any], str | None]:
    """A validator for a tool's whole `parameters` object.

    Returns:
        A function taking the call's arguments and returning an error message, or None when valid.
    """
    props = schema.get("properties") if isinstance(schema, dict) else None
    props = props if isinstance(props, dict) else {}
    required = [r for r in (schema.get("required") or []) if r in props] if isinstance(schema, dict) else []
    checks = {name: compile_value(sub, name) for name, sub in props.items()}
    expected = ", ".join(props) or "none"

    def check(args: Any) -> str | None:
        if not isinstance(args, dict):
            return f"arguments must be an object, got {type_name(args)}"
        for name in required:
            if name not in args:
                return f"missing required argument '{name}'"
        for key, value in args.items():
            c = checks.get(key) if isinstance(key, str) else None
            if c is None:
                return f"unexpected argument {key!r} (expected arguments: {expected})"
            err = c(value)
            if err is not None:
                return err
        return None

    return check


def compile_value(schema: Any, path: str) -> Check:
    """A validator for one value; `path` names it in error messages (e.g. `items[0].sku`)."""
    if not isinstance(schema, dict):
        return _any
    typ = schema.get("x-bfcl-type", schema.get("type"))
    if isinstance(typ, list):
        return _union([compile_value({**schema, "type": t, "x-bfcl-type": t}, path) for t in typ], path, typ)
    typ = _TYPE_ALIASES.get(typ, typ) if isinstance(typ, str) else None
    base = _BUILDERS.get(typ, _build_any)(schema, path)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        if typ == "array":  # BFCL puts some enums on the array itself: they constrain its items
            base = _with_item_enum(base, _with_enum(_any, enum, f"{path}[]"))
        else:
            base = _with_enum(base, enum, path)
    # A parameter whose default is None (an `X | None = None` hint) may also be passed as null.
    if schema.get("nullable") or ("default" in schema and schema["default"] is None):
        inner = base
        base = lambda v: None if v is None else inner(v)  # noqa: E731
    return base


def _any(v: Any) -> str | None:
    return None


def _build_any(schema: dict[str, Any], path: str) -> Check:
    return _any


def _union(checks: list[Check], path: str, types: list[Any]) -> Check:
    def check(v: Any) -> str | None:
        errors = [c(v) for c in checks]
        return None if None in errors else f"argument '{path}' must be one of types {types}, got {type_name(v)}"

    return check


def _with_enum(base: Check, enum: list[Any], path: str) -> Check:
    allowed = set()
    for e in enum:
        try:
            allowed.add((type(e) is bool, e))
        except TypeError:  # unhashable enum members are unusual; fall back to a list scan
            allowed = None
            break

    def check(v: Any) -> str | None:
        err = base(v)
        if err is not None:
            return err
        try:
            ok = (type(v) is bool, v) in allowed if allowed is not None else v in enum
        except TypeError:
            ok = False
        return None if ok else f"argument '{path}' must be one of {enum}, got {v!r}"

    return check


def _with_item_enum(base: Check, item: Check) -> Check:
    def check(v: Any) -> str | None:
        err = base(v)
        if err is not None:
            return err
        for x in v:
            if (err := item(x)) is not None:
                return err
        return None

    return check


def _build_string(schema: dict[str, Any], path: str) -> Check:
    max_len = min(int(schema.get("maxLength", MAX_STRING)), MAX_STRING)
    min_len = int(schema.get("minLength", 0))
    pattern = _regex(schema.get("pattern"))
    is_date = schema.get("format") == "date"

    def check(v: Any) -> str | None:
        if type(v) is not str:
            return f"argument '{path}' must be a string, got {type_name(v)}"
        if len(v) > max_len:
            return f"argument '{path}' is too long ({len(v)} characters; the limit is {max_len})"
        if len(v) < min_len:
            return f"argument '{path}' must have at least {min_len} characters"
        if pattern is not None and pattern.search(v) is None:
            return f"argument '{path}' must match the pattern {pattern.pattern!r}, got {v!r}"
        if is_date and not _is_iso_date(v):
            return f"argument '{path}' must be a date in YYYY-MM-DD form, got {v!r}"
        return None

    return check


def _regex(pattern: Any) -> re.Pattern[str] | None:
    if not isinstance(pattern, str):
        return None
    try:
        return re.compile(pattern)
    except re.error:  # foreign schemas (BFCL) may carry patterns in another regex dialect: skip the check
        return None


def _is_iso_date(v: str) -> bool:
    if len(v) != 10:  # fromisoformat also accepts "20250314" and week dates; the schema promises YYYY-MM-DD
        return False
    try:
        datetime.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _number_check(schema: dict[str, Any], path: str, integer: bool) -> Check:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    kind = "an integer" if integer else "a number"

    def check(v: Any) -> str | None:
        t = type(v)
        if t is not int and (integer or t is not float):
            return f"argument '{path}' must be {kind}, got {type_name(v)}"
        if t is float and not math.isfinite(v):
            return f"argument '{path}' must be a finite number, got {v!r}"
        if abs(v) > MAX_ABS_NUMBER:
            return f"argument '{path}' is out of range ({v!r})"
        if lo is not None and v < lo:
            return f"argument '{path}' must be at least {lo}, got {v!r}"
        if hi is not None and v > hi:
            return f"argument '{path}' must be at most {hi}, got {v!r}"
        return None

    return check


def _build_integer(schema: dict[str, Any], path: str) -> Check:
    return _number_check(schema, path, integer=True)


def _build_number(schema: dict[str, Any], path: str) -> Check:
    return _number_check(schema, path, integer=False)


def _build_boolean(schema: dict[str, Any], path: str) -> Check:
    def check(v: Any) -> str | None:
        return None if type(v) is bool else f"argument '{path}' must be a boolean, got {type_name(v)}"

    return check


def _build_null(schema: dict[str, Any], path: str) -> Check:
    def check(v: Any) -> str | None:
        return None if v is None else f"argument '{path}' must be null, got {type_name(v)}"

    return check


def _build_array(schema: dict[str, Any], path: str) -> Check:
    item = compile_value(schema["items"], f"{path}[]") if isinstance(schema.get("items"), dict) else _any
    max_items = min(int(schema.get("maxItems", MAX_ITEMS)), MAX_ITEMS)
    min_items = int(schema.get("minItems", 0))

    def check(v: Any) -> str | None:
        if type(v) is not list:
            return f"argument '{path}' must be an array, got {type_name(v)}"
        if len(v) > max_items:
            return f"argument '{path}' has too many items ({len(v)}; the limit is {max_items})"
        if len(v) < min_items:
            return f"argument '{path}' must have at least {min_items} items"
        for x in v:
            err = item(x)
            if err is not None:
                return err
        return None

    return check


def _build_object(schema: dict[str, Any], path: str) -> Check:
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    extra_check = compile_value(extra, f"{path}.*") if isinstance(extra, dict) else None
    if not isinstance(props, dict) or not props:
        def check_map(v: Any) -> str | None:
            if type(v) is not dict:
                return f"argument '{path}' must be an object, got {type_name(v)}"
            if len(v) > MAX_ITEMS:
                return f"argument '{path}' has too many keys ({len(v)})"
            for k, x in v.items():
                if type(k) is not str:
                    return f"argument '{path}' has a non-string key {k!r}"
                if extra_check is not None and (err := extra_check(x)) is not None:
                    return err
            return None

        return check_map
    checks = {k: compile_value(s, f"{path}.{k}") for k, s in props.items()}
    required = [r for r in (schema.get("required") or []) if r in props]
    # Unknown keys in a nested object with declared properties are errors, as at the top level, unless
    # the schema explicitly allows extra properties.
    allow_extra = extra is True or isinstance(extra, dict)

    def check(v: Any) -> str | None:
        if type(v) is not dict:
            return f"argument '{path}' must be an object, got {type_name(v)}"
        for r in required:
            if r not in v:
                return f"argument '{path}' is missing the required key '{r}'"
        for k, x in v.items():
            c = checks.get(k) if type(k) is str else None
            if c is None:
                if allow_extra and type(k) is str:
                    if extra_check is not None and (err := extra_check(x)) is not None:
                        return err
                    continue
                return f"argument '{path}' has an unexpected key {k!r} (expected keys: {', '.join(props)})"
            err = c(x)
            if err is not None:
                return err
        return None

    return check


_BUILDERS: dict[Any, Callable[[dict[str, Any], str], Check]] = {
    "string": _build_string,
    "integer": _build_integer,
    "number": _build_number,
    "boolean": _build_boolean,
    "null": _build_null,
    "array": _build_array,
    "object": _build_object,
}
