"""Tool-call formats: the text protocol between a policy and its tools.

A `Format` renders the tool list into prompt messages, renders calls as assistant text (SFT targets),
and parses model text back into calls. Parsing is total: any text gives a `ParseResult`, with
`.error` set when the text is malformed; it never raises and never evaluates model text.

Formats:
    json:      `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks (Hermes / Qwen style).
    pythonic:  `[f(a=1), pkg.g(b='x')]` (BFCL / ToolACE style), parsed with `ast`, never `eval`.
    decision:  `<|use_tool|>` followed by calls (json or pythonic), or `<|answer|>` followed by text.
    native:    the tokenizer's own chat template (`tools=`) and response parser.

Argument values are whatever JSON (or Python literal) the model writes. BFCL's Java and JavaScript tasks need no
grammar of their own: their tools declare every parameter a string, so each argument travels as a string of
source text (`"ids": "new long[]{1L, 2L}"`, `ids="new long[]{1L, 2L}"`), and the AST checker reads it by the
declared Java/JavaScript type (`envs/bfcl.py`, `rewards/source_types.py`).
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from envs.schema import normalize_tool, tool_function
from envs.types import ToolCall, ToolResult

Placement = Literal["system", "tools_role"]
ToolStyle = Literal["json", "compact"]

USE_TOOL = "<|use_tool|>"
ANSWER = "<|answer|>"
DECISION_TOKENS = (USE_TOOL, ANSWER)


@dataclass
class ParseResult:
    """What a format recovered from one assistant message.

    Attributes:
        calls: The parsed calls (possibly empty).
        content: Text outside the calls (the answer, when there are no calls).
        error: Why the text is malformed, or None when it parsed cleanly.
        decision: For the decision format, "use_tool" or "answer" (None if no token was found).
    """

    calls: list[ToolCall] = field(default_factory=list)
    content: str = ""
    error: str | None = None
    decision: str | None = None


class Format:
    """Base class. Subclasses set `name` and `instructions` and implement the call grammar."""

    name: str = ""
    instructions: str = ""

    def __init__(self, tool_style: ToolStyle = "json") -> None:
        if tool_style not in ("json", "compact"):
            raise ValueError(f"tool_style must be 'json' or 'compact', got {tool_style!r}")
        self.tool_style = tool_style

    # -- prompt side --------------------------------------------------------------------------
    def render_tools(self, tools: list[dict[str, Any]], placement: Placement = "system") -> list[dict[str, str]]:
        """Messages that introduce the tools, to put before the conversation.

        Args:
            tools: Tool schemas in OpenAI or BFCL function-doc form.
            placement: "system" puts instructions and tools in one system message; "tools_role" puts
                the instructions in the system message and the tool list in a dedicated `tools` message.
        """
        listing = "\n".join(render_tool(t, self.tool_style) for t in tools)
        if placement == "system":
            return [{"role": "system", "content": f"{self.instructions}\nTools:\n{listing}"}]
        if placement == "tools_role":
            return [{"role": "system", "content": self.instructions}, {"role": "tools", "content": listing}]
        raise ValueError(f"placement must be 'system' or 'tools_role', got {placement!r}")

    def prompt_messages(self, tools: list[dict[str, Any]], first_turn: list[dict[str, Any]],
                        placement: Placement = "system") -> list[dict[str, Any]]:
        """The messages of an episode's prompt: the tool messages, then the first turn's messages."""
        return self.render_tools(tools, placement) + [dict(m) for m in first_turn]

    def render_results(self, results: list[ToolResult]) -> list[dict[str, str]]:
        """The tool message(s) that report results back to the policy."""
        lines = [
            json.dumps({"name": r.call.name, "result": r.observation()}, ensure_ascii=False, default=str)
            for r in results
        ]
        return [{"role": "tool", "content": "\n".join(lines)}]

    def template_kwargs(self, tools: list[dict[str, Any]]) -> dict[str, Any]:
        """Extra `apply_chat_template` arguments (only the native format uses the template's tools)."""
        return {}

    # -- assistant side -----------------------------------------------------------------------
    def render_calls(self, calls: list[ToolCall]) -> str:
        raise NotImplementedError

    def render_answer(self, text: str) -> str:
        """The assistant text for a call-free answer."""
        return text

    def parse(self, text: str) -> ParseResult:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------
# Tool rendering
# ---------------------------------------------------------------------------------------------------


def render_tool(tool: dict[str, Any], style: ToolStyle = "json") -> str:
    """One tool as a prompt line: its JSON schema, or a compact signature that costs fewer tokens."""
    norm = normalize_tool(tool)["function"]
    if style == "json":
        return json.dumps(tool_function(tool), ensure_ascii=False, separators=(", ", ": "))
    params = norm["parameters"].get("properties", {})
    required = set(norm["parameters"].get("required", []))
    args = []
    for pname, schema in params.items():
        typ = _compact_type(schema)
        if pname in required:
            args.append(f"{pname}: {typ}")
        elif schema.get("default") is not None:
            args.append(f"{pname}: {typ} = {json.dumps(schema['default'], ensure_ascii=False)}")
        else:
            args.append(f"{pname}?: {typ}")
    # The first clause of the description: enough to tell tools apart, at a fraction of the tokens.
    desc = re.split(r"[.,;:\n]", norm.get("description", "").strip(), maxsplit=1)[0].strip()
    return f"{norm['name']}({', '.join(args)})" + (f" - {desc}" if desc else "")


def _compact_type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "|".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    typ = schema.get("type", "any")
    if typ == "array" and isinstance(schema.get("items"), dict):
        return f"list[{_compact_type(schema['items'])}]"
    if typ == "object" and isinstance(schema.get("properties"), dict) and schema["properties"]:
        inner = ", ".join(f"{k}: {_compact_type(v)}" for k, v in schema["properties"].items())
        return "{" + inner + "}"
    return {"integer": "int", "number": "float", "string": "str", "boolean": "bool", "object": "dict"}.get(
        str(typ), str(typ)
    )


# ---------------------------------------------------------------------------------------------------
# json: <tool_call>{...}</tool_call>
# ---------------------------------------------------------------------------------------------------

_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)


class JsonFormat(Format):
    name = "json"
    instructions = (
        'To use a tool, reply with <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call> '
        "(one block per call). If no tool fits or a needed value is missing, reply in plain text."
    )

    def render_calls(self, calls: list[ToolCall]) -> str:
        # "</" can only occur inside a JSON string, where "<\/" is the same text: escaping it keeps a value
        # such as "</tool_call>" from closing the block early (the parser cuts at the first closing tag).
        return "\n".join(
            "<tool_call>"
            + json.dumps({"name": c.name, "arguments": c.arguments}, ensure_ascii=False).replace("</", "<\\/")
            + "</tool_call>"
            for c in calls
        )

    def parse(self, text: str) -> ParseResult:
        if not isinstance(text, str):
            return ParseResult(error=f"expected text, got {type(text).__name__}")
        calls: list[ToolCall] = []
        errors: list[str] = []
        for block in _TOOL_CALL_BLOCK.findall(text):
            _json_calls(_strip_fence(block), calls, errors)
        rest = _TOOL_CALL_BLOCK.sub("", text)
        if "<tool_call>" in rest:
            errors.append("unterminated <tool_call> block")
            rest = rest.split("<tool_call>", 1)[0]
        if not calls and not errors:
            # Models often drop the tags and emit a fenced or bare JSON call; accept it when the
            # JSON has the call shape, so the content of prose answers is never mistaken for a call.
            for candidate, span in _bare_json_candidates(text):
                found: list[ToolCall] = []
                sub_errors: list[str] = []
                _json_calls(candidate, found, sub_errors, strict_shape=True)
                if found and not sub_errors:
                    calls = found
                    rest = text[: span[0]] + text[span[1] :]
                    break
        return ParseResult(calls=calls, content=rest.strip(), error="; ".join(errors) or None)


def _strip_fence(s: str) -> str:
    m = _FENCE.search(s)
    return m.group(1) if m else s


def _bare_json_candidates(text: str) -> list[tuple[str, tuple[int, int]]]:
    out = [(m.group(1), m.span()) for m in _FENCE.finditer(text)]
    stripped = text.strip()
    if stripped and stripped[0] in "{[":
        start = text.index(stripped[0])
        out.append((stripped, (start, start + len(stripped))))
    return out


_NOT_JSON = object()


def loads_or_error(src: str) -> tuple[Any, str | None]:
    """json.loads that never raises: model text can be malformed, nested past the recursion limit, or hold an
    integer longer than Python's int-conversion limit (ValueError)."""
    try:
        return json.loads(src), None
    except (ValueError, RecursionError, MemoryError) as e:  # JSONDecodeError is a ValueError
        return _NOT_JSON, str(getattr(e, "msg", e))[:200]


def _json_calls(src: str, calls: list[ToolCall], errors: list[str], strict_shape: bool = False) -> None:
    obj, err = loads_or_error(src)
    if err is not None:
        errors.append(f"invalid JSON in tool call: {err}")
        return
    for item in obj if isinstance(obj, list) else [obj]:
        call, err = _call_from_obj(item)
        if err:
            errors.append(err)
            if strict_shape:
                return
        else:
            calls.append(call)


def _call_from_obj(item: Any) -> tuple[ToolCall | None, str | None]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None, "tool call must be an object with a string 'name'"
    args = item.get("arguments", item.get("parameters", {}))
    if isinstance(args, str):  # some models emit the arguments as a JSON string (OpenAI wire style)
        args, err = loads_or_error(args)
        if err is not None:
            return None, f"arguments of {item['name']!r} are not valid JSON"
    if not isinstance(args, dict):
        return None, f"arguments of {item['name']!r} must be an object"
    return ToolCall(item["name"], args), None


# ---------------------------------------------------------------------------------------------------
# pythonic: [f(a=1), g(b='x')]
# ---------------------------------------------------------------------------------------------------

_CALL_LIST_START = re.compile(r"\[\s*[A-Za-z_][\w.]*\s*\(")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
# JSON spellings that models mix into Python syntax; accepted as the obvious literals.
_JSON_NAMES = {"true": True, "false": False, "null": None}


class PythonicFormat(Format):
    name = "pythonic"
    instructions = (
        "To use tools, reply with only a list of calls: [tool(arg=value, ...)]. "
        "If no tool fits or a needed value is missing, reply in plain text."
    )

    def render_calls(self, calls: list[ToolCall]) -> str:
        parts = []
        for c in calls:
            if not _NAME.match(c.name):
                raise ValueError(f"cannot render {c.name!r} as a Python call name")
            for k in c.arguments:
                if not k.isidentifier() or keyword.iskeyword(k):
                    raise ValueError(f"cannot render argument {k!r} of {c.name} as a Python keyword")
            args = ", ".join(f"{k}={py_literal(v)}" for k, v in c.arguments.items())
            parts.append(f"{c.name}({args})")
        return "[" + ", ".join(parts) + "]"

    def parse(self, text: str) -> ParseResult:
        if not isinstance(text, str):
            return ParseResult(error=f"expected text, got {type(text).__name__}")
        body, before, after = _strip_fence(text), "", ""
        if body is not text:
            m = _FENCE.search(text)
            before, after = text[: m.start()], text[m.end() :]
        stripped = body.strip()
        if stripped == "[]":
            return ParseResult(content=(before + after).strip())
        m = _CALL_LIST_START.search(body)
        if m is None:
            # A bare single call `f(x=1)` (no list brackets) is common; accept it when it is the whole text.
            if re.match(r"[A-Za-z_][\w.]*\s*\(", stripped):
                calls, err = _parse_call_list("[" + stripped + "]")
                if err is None:
                    return ParseResult(calls=calls, content=(before + after).strip())
            return ParseResult(content=text.strip())
        start = m.start()
        # Take the longest span from `[` that parses; it tolerates prose (even brackets) after the list.
        end, calls, err = _longest_parse(body, start)
        content = (before + body[:start] + body[end:] + after).strip() if end else ""
        if err is not None:
            return ParseResult(content=(before + body[:start]).strip(), error=err)
        return ParseResult(calls=calls, content=content)


def _longest_parse(body: str, start: int) -> tuple[int, list[ToolCall], str | None]:
    """Finds the call list starting at `start`: tries each `]` from the last backwards."""
    ends = [i + 1 for i, ch in enumerate(body) if ch == "]" and i > start]
    first_err: str | None = None
    for end in reversed(ends):
        calls, err = _parse_call_list(body[start:end])
        if err is None:
            return end, calls, None
        first_err = first_err or err
    return 0, [], first_err or "unterminated call list (missing ']')"


def _parse_call_list(src: str) -> tuple[list[ToolCall], str | None]:
    try:
        tree = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        return [], f"invalid call list syntax: {getattr(e, 'msg', e)}"
    if not isinstance(tree.body, ast.List):
        return [], "expected a list of calls"
    return calls_of_nodes(tree.body.elts)


def calls_of_nodes(nodes: list[ast.expr]) -> tuple[list[ToolCall], str | None]:
    """The calls written by parsed Python expressions `f(a=1)`: keyword arguments with literal values only, never
    evaluated. Returns the calls, or [] and why the nodes are not such calls."""
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            return [], "every list element must be a function call"
        name = _dotted_name(node.func)
        if name is None:
            return [], "function name must be a plain or dotted name"
        if node.args:
            return [], f"{name}: positional arguments are not allowed; use name=value"
        args: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                return [], f"{name}: **kwargs is not allowed"
            try:
                args[kw.arg] = _literal(kw.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                return [], f"{name}: argument {kw.arg!r} is not a literal value"
        calls.append(ToolCall(name, args))
    return calls, None


def _dotted_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _literal(node: ast.AST) -> Any:
    """A JSON-like value from an AST node: literals only, tuples become lists, never evaluated."""
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("dict unpacking")
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    value = ast.literal_eval(node)
    if isinstance(value, complex) or isinstance(value, bytes):
        raise ValueError("unsupported literal")
    return value


def py_literal(v: Any) -> str:
    """A JSON value as the Python literal that `ast.literal_eval` reads back (True, None, nested lists and dicts).

    Raises:
        ValueError: NaN or infinity, which have no literal form.
    """
    if isinstance(v, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(py_literal(x) for x in v) + "]"
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        raise ValueError("NaN and infinity have no literal form")
    return repr(v)


# ---------------------------------------------------------------------------------------------------
# decision: <|use_tool|> calls | <|answer|> text
# ---------------------------------------------------------------------------------------------------


class DecisionFormat(Format):
    """Decision tokens first, then calls in an inner format, or a text answer."""

    name = "decision"

    def __init__(self, inner: Literal["json", "pythonic"] = "pythonic", tool_style: ToolStyle = "json") -> None:
        super().__init__(tool_style)
        if inner not in ("json", "pythonic"):
            raise ValueError(f"decision format's inner format must be 'json' or 'pythonic', got {inner!r}")
        self.inner: Format = JsonFormat(tool_style) if inner == "json" else PythonicFormat(tool_style)
        grammar = (
            '<tool_call>{"name": "<tool>", "arguments": {...}}</tool_call> blocks'
            if inner == "json"
            else "a list of calls: [tool(arg=value, ...)]"
        )
        self.instructions = (
            f"Start every reply with {USE_TOOL} followed by {grammar}, or with {ANSWER} followed by a "
            "plain-text answer when no tool fits or a needed value is missing."
        )

    def render_calls(self, calls: list[ToolCall]) -> str:
        return USE_TOOL + self.inner.render_calls(calls)

    def render_answer(self, text: str) -> str:
        return ANSWER + text

    def parse(self, text: str) -> ParseResult:
        if not isinstance(text, str):
            return ParseResult(error=f"expected text, got {type(text).__name__}")
        stripped = text.lstrip()
        if stripped.startswith(USE_TOOL):
            res = self.inner.parse(stripped[len(USE_TOOL) :])
            res.decision = "use_tool"
            if not res.calls and res.error is None:
                res.error = f"{USE_TOOL} was not followed by any call"
            return res
        if stripped.startswith(ANSWER):
            return ParseResult(content=stripped[len(ANSWER) :].strip(), decision="answer")
        res = self.inner.parse(text)
        res.error = "; ".join(filter(None, [f"missing decision token ({USE_TOOL} or {ANSWER})", res.error]))
        return res


# ---------------------------------------------------------------------------------------------------
# native: the model's own chat template
# ---------------------------------------------------------------------------------------------------


class NativeFormat(Format):
    """The tokenizer's chat template renders the tools; its response parser reads the calls.

    Falls back to the Hermes `<tool_call>` grammar when the template uses it but the tokenizer ships
    no response parser (true of most Qwen / Hermes-style checkpoints today).
    """

    name = "native"

    def __init__(self, tokenizer: Any, tool_style: ToolStyle = "json") -> None:
        super().__init__(tool_style)
        template = getattr(tokenizer, "chat_template", None) or ""
        if "tools" not in template:
            raise ValueError(
                "format 'native' needs a chat template that accepts tools=; this tokenizer's template has "
                "no tools support. Use format 'json', 'pythonic' or 'decision' instead."
            )
        self.tokenizer = tokenizer
        self._has_parser = getattr(tokenizer, "response_template", None) is not None
        if not self._has_parser and "<tool_call>" not in template:
            raise ValueError(
                "format 'native': the tokenizer has no response parser and its template is not Hermes-style "
                "(<tool_call>); cannot parse its calls. Use format 'json' or 'pythonic'."
            )
        self._hermes = JsonFormat(tool_style)

    def render_tools(self, tools: list[dict[str, Any]], placement: Placement = "system") -> list[dict[str, str]]:
        return []  # the chat template places the tools itself (see template_kwargs)

    def template_kwargs(self, tools: list[dict[str, Any]]) -> dict[str, Any]:
        return {"tools": [normalize_tool(t) for t in tools]}

    def render_calls(self, calls: list[ToolCall]) -> str:
        return self._hermes.render_calls(calls)

    def parse(self, text: str) -> ParseResult:
        if not self._has_parser:
            return self._hermes.parse(text)
        try:
            msg = self.tokenizer.parse_response(text, prefix="")
        except Exception as e:  # the parser is third-party code: a failure is a parse error, not a crash
            return ParseResult(content=text if isinstance(text, str) else "", error=f"response parser failed: {e}")
        calls = []
        for tc in msg.get("tool_calls") or []:
            fn = tc.get("function", tc)
            call, err = _call_from_obj(fn)
            if err:
                return ParseResult(content=msg.get("content") or "", error=err)
            calls.append(call)
        return ParseResult(calls=calls, content=(msg.get("content") or "").strip())


FORMAT_NAMES = ("json", "pythonic", "decision", "native")


def get_format(
    name: str,
    *,
    tool_style: ToolStyle = "json",
    decision_inner: Literal["json", "pythonic"] = "pythonic",
    tokenizer: Any = None,
) -> Format:
    """Returns the format called `name`.

    Args:
        name: One of `FORMAT_NAMES`.
        tool_style: How tools are listed in the prompt: full JSON schemas or compact signatures.
        decision_inner: For `decision`, the grammar of the calls after `<|use_tool|>`.
        tokenizer: Required for `native`.
    """
    if name == "json":
        return JsonFormat(tool_style)
    if name == "pythonic":
        return PythonicFormat(tool_style)
    if name == "decision":
        return DecisionFormat(decision_inner, tool_style)
    if name == "native":
        if tokenizer is None:
            raise ValueError("format 'native' needs the tokenizer (its chat template renders the tools)")
        return NativeFormat(tokenizer, tool_style)
    raise ValueError(f"unknown format {name!r}; choose one of {list(FORMAT_NAMES)}")
