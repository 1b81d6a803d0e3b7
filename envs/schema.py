"""Tool schemas: one internal form (OpenAI JSON schema) from the two forms found in the wild.

OpenAI form: `{"type": "function", "function": {"name", "description", "parameters": {...}}}`.
BFCL function-doc form: `{"name", "description", "parameters": {"type": "dict", ...}}` with BFCL's own
type names. BFCL types map to JSON schema as dict->object, float->number, tuple->array, any->string;
the original BFCL type is kept under `x-bfcl-type` wherever the mapping loses information, because the
AST checker must apply BFCL's rules (an int passes for a float, anything passes for `any`).
"""

from __future__ import annotations

from typing import Any

_BFCL_TO_JSON = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "any": "string",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
    "number": "number",
    "null": "null",
}


def tool_function(tool: dict[str, Any]) -> dict[str, Any]:
    """The `{"name", "description", "parameters"}` part of a tool in either form."""
    if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        return tool["function"]
    return tool


def tool_name(tool: dict[str, Any]) -> str:
    return tool_function(tool).get("name", "")


def normalize_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Returns the tool in OpenAI form with JSON-schema types (BFCL types kept under `x-bfcl-type`)."""
    fn = tool_function(tool)
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    return {
        "type": "function",
        "function": {
            "name": fn.get("name", ""),
            "description": fn.get("description", ""),
            "parameters": _normalize_schema(params),
        },
    }


def _normalize_schema(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    typ = schema.get("type")
    if isinstance(typ, str) and typ in _BFCL_TO_JSON and _BFCL_TO_JSON[typ] != typ:
        out["type"] = _BFCL_TO_JSON[typ]
        out["x-bfcl-type"] = typ
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: _normalize_schema(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = _normalize_schema(schema["items"])
    return out


def parameters(tool: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameter properties (name -> schema)."""
    return (tool_function(tool).get("parameters") or {}).get("properties") or {}


def required_parameters(tool: dict[str, Any]) -> list[str]:
    return list((tool_function(tool).get("parameters") or {}).get("required") or [])
