"""Strict YAML -> dataclass loading, with errors that name the file, the line and the key path.

We write this instead of using a config library (OmegaConf, Hydra, draccus) because we need three things
together: unknown keys rejected with a "did you mean" hint, `Literal` fields checked, and every error
pointing at `file:line`. PyYAML's node tree carries the line marks; the rest is a small type walker.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A config file or override is wrong. The message is `where: key.path: reason`."""


def load_yaml_dataclass(
    cls: type[T], path: str | Path | None, overrides: list[str] = (), elsewhere: Callable[[str], str | None] | None = None
) -> T:
    """Loads `cls` from a YAML file, then applies `key.path=value` overrides.

    Args:
        cls: The root dataclass.
        path: YAML file (None starts from the dataclass defaults).
        overrides: Command-line style `a.b.c=value` strings; values are parsed as YAML scalars/lists.
        elsewhere: Given an unknown dotted key path, says where it belongs instead (another stage), or None.

    Raises:
        ConfigError: naming the file and line (or the override) and the dotted key path.
    """
    tree: dict[str, Any] = {}
    lines: dict[str, int] = {}
    where = "<defaults>"
    if path is not None:
        path = Path(path)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config: {e.strerror}") from None
        try:
            node = yaml.compose(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            loc = f"{path}:{mark.line + 1}" if mark else str(path)
            raise ConfigError(f"{loc}: invalid YAML: {getattr(e, 'problem', e)}") from None
        if node is not None:
            if not isinstance(node, yaml.MappingNode):
                raise ConfigError(f"{path}:1: the top level must be a mapping of sections")
            tree = _node_to_python(node, "", lines)
    sources = {k: f"{where}:{v}" for k, v in lines.items()}
    for ov in overrides:
        key, sep, raw = ov.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {ov!r}: expected key.path=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        _set_path(tree, key.strip().split("."), value, f"override {ov!r}")
        sources[key.strip()] = f"override {ov!r}"
    return _build(cls, tree, "", sources, where, elsewhere)


def _node_to_python(node: yaml.Node, prefix: str, lines: dict[str, int]) -> Any:
    """Converts a composed YAML node to Python values, recording each key path's line."""
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            key = str(yaml.safe_load(yaml.serialize(knode)))
            kpath = f"{prefix}.{key}" if prefix else key
            lines[kpath] = knode.start_mark.line + 1
            if key in out:
                raise ConfigError(f"line {knode.start_mark.line + 1}: {kpath}: duplicate key")
            out[key] = _node_to_python(vnode, kpath, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_node_to_python(v, f"{prefix}[{i}]", lines) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _set_path(tree: dict[str, Any], keys: list[str], value: Any, where: str) -> None:
    cur = tree
    for k in keys[:-1]:
        nxt = cur.get(k)
        if nxt is None:
            nxt = cur[k] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"{where}: {'.'.join(keys)}: {k} is not a section")
        cur = nxt
    cur[keys[-1]] = value


def _where(sources: dict[str, str], path: str, default: str) -> str:
    # The most specific recorded location: the key itself, else a key inside it, else its nearest parent.
    if path and path not in sources:
        inside = [k for k in sources if k.startswith(path + ".")]
        if inside:
            return sources[inside[0]]
    p = path
    while p:
        if p in sources:
            return sources[p]
        p = p.rpartition(".")[0]
    return default


def _build(cls: type, data: Any, prefix: str, sources: dict[str, str], where: str, elsewhere: Any = None) -> Any:
    loc = _where(sources, prefix, where)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{loc}: {prefix or '<root>'}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    field_names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, value in data.items():
        kpath = f"{prefix}.{key}" if prefix else key
        if key not in field_names:
            other = elsewhere(kpath) if elsewhere is not None else None
            if other:
                raise ConfigError(f"{_where(sources, kpath, where)}: {kpath}: {other}")
            hint = difflib.get_close_matches(key, field_names, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (known keys: {', '.join(field_names)})"
            raise ConfigError(f"{_where(sources, kpath, where)}: {kpath}: unknown key{suggestion}")
        kwargs[key] = _convert(hints[key], value, kpath, sources, where, elsewhere)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        # Cross-field checks in __post_init__ raise ValueError("key: reason"); attach the location.
        msg = str(e)
        head = msg.split(":", 1)[0]
        full = (f"{prefix}.{head}" if prefix else head) if head in field_names else prefix
        raise ConfigError(f"{_where(sources, full, loc)}: {prefix + '.' if prefix else ''}{msg}") from None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, kpath: str, sources: dict[str, str], where: str, elsewhere: Any = None) -> Any:
    loc = _where(sources, kpath, where)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, kpath, sources, where, elsewhere)
            except ConfigError as e:
                errors.append(str(e).rsplit(": ", 1)[-1])
        raise ConfigError(f"{loc}: {kpath}: {value!r} fits none of {_type_name(tp)} ({'; '.join(errors)})")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{loc}: {kpath}: {value!r} is not one of {list(allowed)}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, kpath, sources, where, elsewhere)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{loc}: {kpath}: expected a list, got {type(value).__name__} {value!r}")
        (item_tp, *_) = get_args(tp) or (Any,)
        items = [_convert(item_tp, v, f"{kpath}[{i}]", sources, where) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{loc}: {kpath}: expected a mapping, got {type(value).__name__} {value!r}")
        _, val_tp = get_args(tp) or (str, Any)
        return {str(k): _convert(val_tp, v, f"{kpath}.{k}", sources, where) for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
            # PyYAML follows YAML 1.1, where "1e-5" (no dot in the mantissa) is a string, not a float;
            # learning rates are written that way, in files and on the command line alike.
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{loc}: {kpath}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{loc}: {kpath}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{loc}: {kpath}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{loc}: {kpath}: expected a string, got {type(value).__name__} {value!r}")
        return value
    raise ConfigError(f"{loc}: {kpath}: unsupported field type {_type_name(tp)}")


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain dicts (for logging to W&B and saving next to checkpoints)."""
    return dataclasses.asdict(obj)



def has_key_path(cls: type, dotted: str) -> bool:
    """True when `dotted` (`a.b.c`) names a field of the dataclass `cls` (through nested dataclass sections)."""
    tp: Any = cls
    for part in dotted.split("."):
        for arg in get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,):
            if dataclasses.is_dataclass(arg):
                tp = arg
                break
        else:
            return False
        hints = get_type_hints(tp)
        if part not in {f.name for f in dataclasses.fields(tp)}:
            return False
        tp = hints[part]
    return True
