"""BFCL's Java and JavaScript type rules: reading an argument's source text as its declared type.

BFCL's Java and JavaScript categories (simple_java, simple_javascript) give every argument to the model
as a string of source text (`"true"`, `"42L"`, `"new int[]{1, 2}"`, `"{limit: 5}"`). Its AST checker
first requires each value to be a string (else `type_error:java` / `type_error:js`), converts it to
the Python value of the parameter's declared Java/JavaScript type, and then applies its usual checks
to the converted value (see `rewards.ast_match`). This module is that conversion, written to give
the same value as bfcl-eval's `java_type_converter` / `js_type_converter` on every input, including
their quirks, because the verdict depends on them:

- text that does not fit the declared type stays a string (`"5"` for a Java `long` needs `5L`; a
  Java `float` needs the `f` suffix; a JavaScript `float` takes no exponent), and is then compared
  as a string: it passes only where the possible answer is that string (BFCL's "variable" case);
- a Java `char` never converts (BFCL's pattern for it cannot match), nor does a Java `String`: its
  quotes are kept, so `"\\"abc\\""` is not `abc`; a JavaScript `String` loses one pair of quotes;
- array elements are split on every comma, quoted or not; Java elements of a declared item type
  are converted as that type (so a Java `String` element keeps its quotes), untyped ones by their
  look (`true`, `"x"`, `5L`, `1.5f`, int, float, else the text);
- a Java `ArrayList` is read from `new ArrayList<..>(Arrays.asList(..))`, from
  `new ArrayList<..>() {{ add(..); }}` or as empty from `new ArrayList<..>()`; an `Array` from
  `new T[]{..}`; a `HashMap` from `new HashMap<..>() {{ put("k", v); }}` (string keys only);
- a JavaScript array from `[..]`, `[[..], [..]]` (2-D, items read by their look) or
  `new Array(..)`; a JavaScript object from `{k: v, ..}` up to its first `}`; text around a
  JavaScript collection is stripped, and any failure inside an array conversion leaves the text.

Where bfcl-eval raises instead (a type outside its tables, a Java Set, Hashtable, Queue or Stack, a
malformed number it matched but cannot parse), the source text is kept as it is.
"""

from __future__ import annotations

import re
from typing import Any

# Declared type -> the Python type of the converted value (bfcl_eval/constants/type_mappings.py).
JAVA_TYPES: dict[str, type] = {
    "byte": int,
    "short": int,
    "integer": int,
    "float": float,
    "double": float,
    "long": int,
    "boolean": bool,
    "char": str,
    "Array": list,
    "ArrayList": list,
    "Set": set,
    "HashMap": dict,
    "Hashtable": dict,
    "Queue": list,
    "Stack": list,
    "String": str,
    "any": str,
}
JS_TYPES: dict[str, type] = {
    "String": str,
    "integer": int,
    "float": float,
    "Bigint": int,
    "Boolean": bool,
    "dict": dict,
    "array": list,
    "any": str,
}
TYPES = {"java": JAVA_TYPES, "javascript": JS_TYPES}
# Declared types whose items are typed by the schema's `items` (BFCL checks their types one level deep).
ARRAY_TYPES = {"java": ("Array", "ArrayList"), "javascript": ("array",)}
# BFCL's error type for a value that is not a string of source text, by language.
NOT_SOURCE_ERROR = {"java": "java_type_error", "javascript": "js_type_error"}

# Python's `re` semantics matter here: `$` also matches before a final newline, `\d` any Unicode digit.
_INT = re.compile(r"^-?\d+$")
_JAVA_FLOAT = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$")
_JAVA_DOUBLE = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_JAVA_LONG = re.compile(r"^-?\d+[lL]$")
_F_SUFFIX = re.compile(r"[fF]$")
_L_SUFFIX = re.compile(r"[lL]$")
_JS_FLOAT = re.compile(r"^-?\d+(\.\d+)?$")
_JS_BIGINT = re.compile(r"^-?\d+n$")

_AS_LIST = re.compile(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)")
_ADD_BLOCK = re.compile(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", re.DOTALL)
_ADD = re.compile(r"add\((.+?)\)")
_EMPTY_LIST = re.compile(r"new\s+ArrayList<\w*>\(\)")
_NEW_ARRAY = re.compile(r"new\s+\w+\[\]\s*\{(.*?)\}")
_PUT_BLOCK = re.compile(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", re.DOTALL)
_PUT = re.compile(r"put\(\"(.*?)\",\s*(.*?)\)")
_EMPTY_MAP = re.compile(r"new\s+HashMap<.*?>\s*\(\)")

_JS_2D = re.compile(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)")
_JS_1D = re.compile(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)")
_JS_INNER = re.compile(r"\[(.*?)\]")
_JS_OBJECT = re.compile(r"\{(.*?)\}")
# One `key: value` entry: the value runs to the next comma that is followed by another `key:`.
_JS_ENTRY = re.compile(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)")


class _Unsupported(ValueError):
    """A declared type bfcl-eval cannot convert (it raises); the caller keeps the text."""


def convert(text: str, language: str, declared: str, item: str | None = None) -> Any:
    """An argument's source text read as its declared type, as BFCL's AST checker reads it.

    Args:
        text: The model's argument value (a string of Java or JavaScript source text).
        language: "java" or "javascript".
        declared: The parameter's declared type (the function doc's `type`, e.g. "long", "ArrayList").
        item: For array types, the declared type of the items (`items.type`), else None.

    Returns:
        The converted value, or `text` itself where the text does not fit the type.
    """
    try:
        if language == "java":
            return _java(text, declared, item)
        return _js(text, declared, item)
    except (_Unsupported, ValueError):
        return text


# ---------------------------------------------------------------------------------------------------
# Java
# ---------------------------------------------------------------------------------------------------


def _java(text: str, declared: str, item: str | None = None) -> Any:
    if declared in ("byte", "short", "integer"):
        return int(text) if _INT.match(text) else text
    if declared == "float":
        return float(_F_SUFFIX.sub("", text)) if _JAVA_FLOAT.match(text) else text
    if declared == "double":
        return float(text) if _JAVA_DOUBLE.match(text) else text
    if declared == "long":
        return int(_L_SUFFIX.sub("", text)) if _JAVA_LONG.match(text) else text
    if declared == "boolean":
        return text == "true" if text in ("true", "false") else text
    if declared in ("char", "String", "any"):
        return text
    if declared == "ArrayList":
        return _java_arraylist(text, item)
    if declared == "Array":
        return _java_array(text, item)
    if declared == "HashMap":
        return _java_hashmap(text)
    raise _Unsupported(f"Java type {declared!r}")


def _java_item(text: str, item: str | None) -> Any:
    """One ArrayList element: a char or String item loses its first and last character, whatever they are."""
    if item in ("char", "String"):
        return text[1:-1]
    return _java(text, item) if item else java_literal(text)


def _java_arraylist(text: str, item: str | None) -> Any:
    m = _AS_LIST.search(text)
    if m:
        return [_java_item(e.strip(), item) for e in m.group(1).split(",")]
    m = _ADD_BLOCK.search(text)
    if m:
        return [_java_item(e.strip(), item) for e in _ADD.findall(m.group(1))]
    if _EMPTY_LIST.search(text):
        return []
    return text


def _java_array(text: str, item: str | None) -> Any:
    m = _NEW_ARRAY.search(text)
    if not m:
        return text
    parts = [e.strip() for e in m.group(1).split(",")]
    return [_java(e, item) if item else java_literal(e) for e in parts if e]


def _java_hashmap(text: str) -> Any:
    m = _PUT_BLOCK.search(text)
    if m:
        body = m.group(1)
        return {k: java_literal(v.strip()) for k, v in _PUT.findall(body)} if body.strip() else {}
    if _EMPTY_MAP.search(text):
        return {}
    return text


def java_literal(text: str) -> Any:
    """A Java value of no declared type, read by its look: boolean, "string", long, float, int or double."""
    if text == "true":
        return True
    if text == "false":
        return False
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if _JAVA_LONG.match(text):
        return int(text[:-1])
    if _JAVA_FLOAT.match(text):
        return float(_F_SUFFIX.sub("", text))
    return _number_or_text(text)


def _number_or_text(text: str) -> Any:
    # Python's own int() and float(): they also take "+5", "1_000", "1e3", "inf", as bfcl-eval does.
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


# ---------------------------------------------------------------------------------------------------
# JavaScript
# ---------------------------------------------------------------------------------------------------


def _quoted(text: str) -> bool:
    return (text.startswith('"') and text.endswith('"')) or (text.startswith("'") and text.endswith("'"))


def _js(text: str, declared: str, item: str | None = None) -> Any:
    if declared == "String":
        return text[1:-1] if _quoted(text) else text
    if declared == "integer":
        return int(text) if _INT.match(text) else text
    if declared == "float":
        return float(text) if _JS_FLOAT.match(text) else text
    if declared == "Bigint":
        return int(text[:-1]) if _JS_BIGINT.match(text) else text
    if declared == "Boolean":
        return text == "true" if text in ("true", "false") else text
    if declared == "any":
        return text
    if declared == "array":
        return _js_array(text.strip(), item)
    if declared == "dict":
        return _js_object(text.strip())
    raise _Unsupported(f"JavaScript type {declared!r}")


def _js_array(code: str, item: str | None) -> Any:
    try:
        m = _JS_2D.match(code)
        if m:
            rows = []
            for k, inner in enumerate(_JS_INNER.findall(m.group(0))):
                inner = inner.strip()
                if k == 0 and inner.startswith("["):
                    inner = inner[1:]
                rows.append([js_literal(e.strip()) for e in inner.split(",")])
            return rows
        m = _JS_1D.match(code)
        if not m:
            return code
        body = m.group(1) if m.group(1) is not None else m.group(2)
        body = body.strip() if body is not None else ""
        parts = body.split(",") if body else []
        if not item:
            return [js_literal(e.strip()) for e in parts]
        # A quoted element of an array item type is read as an array of Strings (a quirk kept as is).
        return [_js(e.strip(), item, "String" if e.strip()[:1] in ("'", '"') else None) for e in parts]
    except Exception:  # bfcl-eval keeps the text on any failure inside an array
        return code


def _js_object(code: str) -> Any:
    if code == "{}":
        return {}
    m = _JS_OBJECT.match(code)
    if not m:
        return code
    out: dict[str, Any] = {}
    try:
        for key, value in _JS_ENTRY.findall(m.group(1)):
            key = key.strip().strip("'\"")
            value = value.strip()
            if value.startswith("[") and value.endswith("]"):
                out[key] = _js_array(value, None)
            elif value.startswith("{") and value.endswith("}"):
                out[key] = _js_object(value)
            else:
                out[key] = js_literal(value.strip("'\""))
    except Exception:  # as for arrays: bfcl-eval keeps the text
        return code
    return out


def js_literal(text: str) -> Any:
    """A JavaScript value of no declared type, read by its look: boolean, quoted string, int, float or text."""
    text = text.strip()
    if text == "true":
        return True
    if text == "false":
        return False
    if _quoted(text):
        return text[1:-1]
    return _number_or_text(text)
