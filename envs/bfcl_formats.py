"""BFCL v4's prompt formats, for its `format_sensitivity` category: the system prompt of each variant, and the
parser of the variant's return format.

BFCL asks 200 of its AST tasks (`data/BFCL_v4_format_sensitivity.json`: category -> task ids) again under 26
system prompts, and scores each reply as it scores the base task (its AST checker, here `rewards.ast_match`).
A variant is a config string of five dimensions:

    ret_fmt=python|json|verbose_xml|concise_xml   how the model must write its calls
    &tool_call_tag=True|False                     the calls go inside <TOOLCALL>...</TOOLCALL>
    &func_doc_fmt=python|xml|json                 how the prompt lists the functions
    &prompt_fmt=plaintext|markdown                the prompt's layout (markdown adds "## Task"-style headings)
    &style=classic|experimental                   the wording of the instructions

The 26 (`CONFIGS`, in BFCL's order) are the 4 x 2 x 3 return format / tag / doc format combinations in plaintext
and classic style, plus the default prompt (python, no tag, json docs) once in markdown and once in the
experimental style. BFCL reports the accuracy of each variant, the category's accuracy over all of them, and
how much the variants differ: the largest difference between two variants' accuracies and their sample standard
deviation, in points (rl/eval/bfcl_score.py `format_sensitivity`).

What BFCL's harness does, and this module does the same way:
- The system prompt: persona, task, tool-call format (with the type list for the XML formats), multi-turn
  behaviour, then the functions in the variant's doc format. When the task's first turn opens with a system
  message, BFCL puts its prompt before that message's content, separated by a blank line, in one message.
- The functions carry BFCL's Python hint " Note that the provided function is in Python 3 syntax." at the end of
  each description, twice: BFCL's loader adds it when it reads the base category and again when it reads
  format_sensitivity. The task's `tools` are those docs (they only differ from the base task's in descriptions,
  which the AST check does not read).
- The reply is decoded as BFCL's prompting handlers decode it: backticks, newlines and spaces are stripped from
  both ends and the text is put inside [...] unless it already starts / ends so; with the tag, the first
  <TOOLCALL>...</TOOLCALL> is taken; then the return format's grammar (see `BFCLPromptFormat.parse`).

Typical use:

    tasks = envs.bfcl.load("format_sensitivity", limit=3)    # 3 base tasks x 26 variants
    fmt = BFCLPromptFormat(tasks[0].metadata["bfcl_prompt_format"])
    messages = fmt.prompt_messages(tasks[0].tools, tasks[0].turns[0])
    calls = fmt.parse(reply).calls
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from envs.formats import Format, ParseResult, PythonicFormat, calls_of_nodes, loads_or_error, py_literal
from envs.types import Task, ToolCall

RETURN_FORMATS = ("python", "json", "verbose_xml", "concise_xml")
DOC_FORMATS = ("python", "xml", "json")
DEFAULT_CONFIG = "ret_fmt=python&tool_call_tag=False&func_doc_fmt=json&prompt_fmt=plaintext&style=classic"
CONFIGS: tuple[str, ...] = (
    *(f"ret_fmt={r}&tool_call_tag={t}&func_doc_fmt={d}&prompt_fmt=plaintext&style=classic"
      for r, t, d in itertools.product(RETURN_FORMATS, ("True", "False"), DOC_FORMATS)),
    DEFAULT_CONFIG.replace("prompt_fmt=plaintext", "prompt_fmt=markdown"),
    DEFAULT_CONFIG.replace("style=classic", "style=experimental"),
)
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."

# The prompt text is BFCL's (bfcl_eval/constants/default_prompts.py); the model must see the same words, and a
# test compares these copies and the whole rendered prompt with BFCL's.
_CALL_SYNTAX = {
    "python": "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]",
    "json": '```json\n[{"function":"func_name1","parameters":{"param1":"value1","param2":"value2"...}},{"function":"func_name2","parameters":{"param":"value"}}]\n```',
    "verbose_xml": '<functions><function name="func_name1"><params><param name="param1" value="value1" type="type1"/><param name="param2" value="value2" type="type2"/>...</params></function><function name="func_name2"><params><param name="param3" value="value3" type="type3"/></params></function></functions>',
    "concise_xml": '<functions><function name="func_name1"><param name="param1" type="type1">value1</param><param name="param2" type="type2">value2</param>...</function><function name="func_name2"><param name="param3" type="type3">value</param></function></functions>',
}
_XML_TYPES = "The type fields of the parameters in your function calls must be one of: string, integer, float, boolean, array, dict, or tuple."
_STYLES = {
    "classic": {
        "persona": "You are an expert in composing functions.",
        "task": "You are given a question and a set of possible functions. Based on the question, you will need to make one or more function/tool calls to achieve the purpose. If none of the functions can be used, point it out. If the given question lacks the parameters required by the function, also point it out.",
        "no_tag": "You should only return the function calls in your response.\n\nIf you decide to invoke any of the function(s), you MUST put it in the format of {syntax}. {types} You SHOULD NOT include any other text in the response.",
        "tag": "You should only return the function calls in the <TOOLCALL> section. If you decide to invoke any of the function(s), you MUST put it in the format of <TOOLCALL>{syntax}</TOOLCALL>. {types} You SHOULD NOT include any other text in the response.",
        "multiturn": "At each turn, you should try your best to complete the tasks requested by the user within the current turn. Continue to output functions to call until you have fulfilled the user's request to the best of your ability. Once you have no more functions to call, the system will consider the current turn complete and proceed to the next turn or task.",
        "tools": "Here is a list of functions in {doc_format} format that you can invoke.\n{functions}\n",
    },
    "experimental": {
        "persona": "You are an expert in generating structured function calls.",
        "task": "You are given a user query and a set of available functions. Your task is to produce one or more function/tool calls to fulfill the user's request. If no suitable function exists, or required parameters are missing, clearly indicate this.",
        "no_tag": "Respond with only the function calls.\n\nYou MUST format it exactly as {syntax}. {types} Do NOT include any other text.",
        "tag": "Return only the function calls enclosed in <TOOLCALL> tags.\n\nYou MUST format it exactly as <TOOLCALL>{syntax}</TOOLCALL>. {types} Do NOT include any other text.",
        "multiturn": "At every turn, aim to complete the user's tasks within that turn. Continue emitting function calls until the request is satisfied to the best of your ability. Once no more calls are needed, the system will proceed to the next turn.",
        "tools": "Below is a list of callable functions in the {doc_format} style:\n{functions}\n",
    },
}
_LAYOUTS = {
    # BFCL writes the persona and the task with no space between them in plaintext.
    "plaintext": "{persona}{task}\n\n{call_format}\n\n{multiturn}\n\n{tools}",
    "markdown": "{persona}\n\n## Task\n{task}\n\n## Tool Call Format\n{call_format}\n\n## Multi-turn Behavior\n{multiturn}\n\n## Available Tools\n{tools}",
}
_CONFIG_RE = re.compile(
    r"ret_fmt=(python|json|verbose_xml|concise_xml)&tool_call_tag=(True|False)&func_doc_fmt=(python|xml|json)"
    r"&prompt_fmt=(plaintext|markdown)&style=(classic|experimental)"
)


@dataclass(frozen=True)
class PromptVariant:
    """One of BFCL's prompt variants (a config string's five dimensions)."""

    return_format: str
    tool_call_tag: bool
    doc_format: str
    layout: str
    style: str

    @classmethod
    def parse(cls, config: str) -> PromptVariant:
        """`"ret_fmt=json&tool_call_tag=True&func_doc_fmt=xml&prompt_fmt=plaintext&style=classic"` -> a variant.

        Raises:
            ValueError: The string is not of that form (the message shows the form).
        """
        m = _CONFIG_RE.fullmatch(config)
        if m is None:
            raise ValueError(f"not a BFCL prompt format: {config!r}; expected e.g. {DEFAULT_CONFIG!r}")
        ret, tag, doc, layout, style = m.groups()
        return cls(ret, tag == "True", doc, layout, style)


# ---------------------------------------------------------------------------------------------------
# The system prompt
# ---------------------------------------------------------------------------------------------------


def system_prompt(config: str, functions: list[dict[str, Any]]) -> str:
    """BFCL's system prompt for a variant, listing `functions` (BFCL function docs) in its doc format."""
    v = PromptVariant.parse(config)
    words = _STYLES[v.style]
    types = _XML_TYPES if v.return_format.endswith("xml") else ""
    call_format = words["tag" if v.tool_call_tag else "no_tag"].format(syntax=_CALL_SYNTAX[v.return_format], types=types)
    tools = words["tools"].format(doc_format=v.doc_format, functions=function_docs(functions, v.doc_format))
    return _LAYOUTS[v.layout].format(persona=words["persona"], task=words["task"], call_format=call_format,
                                     multiturn=words["multiturn"], tools=tools)


def function_docs(functions: list[dict[str, Any]], doc_format: str) -> str:
    """The functions as BFCL lists them in a prompt: JSON (indented by 4), XML, or Python docstrings."""
    if doc_format == "json":
        return json.dumps(functions, indent=4)
    if doc_format == "xml":
        return "\n".join(_xml_doc(fn) for fn in functions)
    if doc_format == "python":
        # BFCL separates the docstrings by four blank lines and ends with two.
        return "\n\n\n\n\n".join(_python_doc(fn) for fn in functions) + "\n\n\n" if functions else ""
    raise ValueError(f"unknown function doc format {doc_format!r}; choose one of {list(DOC_FORMATS)}")


def _described(meta: dict[str, Any]) -> str:
    desc = meta.get("description", "")
    return desc + f" Enum values: {meta['enum']}." if "enum" in meta else desc


def _xml_doc(fn: dict[str, Any]) -> str:
    params = fn["parameters"]
    body = "".join(_xml_param(n, m, params.get("required"), 2) for n, m in params.get("properties", {}).items())
    return f'<function name="{fn["name"]}">\n  <desc>{fn.get("description", "")}</desc>\n  <params>\n{body}  </params>\n</function>\n'


def _xml_param(name: str, meta: dict[str, Any], required: list[str] | None, level: int) -> str:
    pad = "  " * level
    typ = meta.get("type", "string")
    if "type" in meta.get("items", {}):
        typ = f"{typ}[{meta['items']['type']}]"
    elif isinstance(meta.get("additionalProperties"), dict):
        typ = f"{typ}[{meta['additionalProperties'].get('type', 'string')}]"
    # No `required` list means every parameter is required.
    attrs = f'name="{name}" type="{typ}" required="{"true" if required is None or name in required else "false"}"'
    if "default" in meta:
        attrs += f' default="{meta["default"]!r}"'
    # BFCL writes the attributes comma-separated and then deletes every comma in the tag, those inside a default
    # value or a type included; the prompt must show the same text.
    out = f"{pad}<param {attrs.replace(',', '')}>\n{pad}  <desc>{_described(meta)}</desc>\n"
    if "properties" in meta:
        children = "".join(_xml_param(n, m, meta.get("required"), level + 2) for n, m in meta["properties"].items())
        out += f"{pad}  <params>\n{children}{pad}  </params>\n"
    return out + f"{pad}</param>\n"


def _python_type(meta: dict[str, Any]) -> str:
    typ = meta.get("type", "string")
    simple = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"}
    if typ in simple:
        return simple[typ]
    if typ in ("array", "list", "tuple") and "items" in meta:
        return f"list[{_python_type(meta['items'])}]"
    if typ in ("object", "dict"):
        extra = meta.get("additionalProperties")
        return f"dict[str, {_python_type(extra)}]" if isinstance(extra, dict) else "dict"
    return str(typ)


def _python_doc(fn: dict[str, Any]) -> str:
    lines = [f"# Function: {fn['name']}\n", '    """\n', f"    {fn.get('description', '')}\n\n"]
    props = fn.get("parameters", {}).get("properties", {})
    if props:
        lines.append("    Args:\n")
        lines += [line for n, m in props.items() for line in _python_param(n, m, 0)]
    lines.append('    """\n')
    return "".join(lines)


def _python_param(name: str, meta: dict[str, Any], depth: int) -> list[str]:
    default = f", default={meta['default']!r}" if "default" in meta else ""
    lines = [f"{' ' * (8 + 4 * depth)}{name} ({_python_type(meta)}{default}): {_described(meta)}\n"]
    for child, child_meta in meta.get("properties", {}).items():
        lines += _python_param(child, child_meta, depth + 1)
    return lines


# ---------------------------------------------------------------------------------------------------
# The format: prompt, calls, parsing
# ---------------------------------------------------------------------------------------------------

_TOOLCALL = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL)
_FUNCTIONS = re.compile(r"<functions>.*?</functions>", re.DOTALL)
# BFCL's call list: the first "[{...}, {...}]" where each object ends at the first "}" that lets the list close.
# It is lazy, so a parameter holding a list of objects ends the match early (at that inner "}]"), the text does not
# decode, and BFCL counts the reply as no calls. Kept as BFCL has it: the accuracy must be BFCL's.
_JSON_CALL_LIST = re.compile(r"\[\s*\{.*?\}\s*(?:,\s*\{.*?\}\s*)*\]", re.DOTALL)


class BFCLPromptFormat(Format):
    """One BFCL prompt variant as a toolgym `Format`: BFCL's system prompt, and its return format's grammar.

    Where a variant's grammar is one of toolgym's formats, the parser reuses it: ret_fmt=python is the pythonic
    format's call grammar (`envs.formats.calls_of_nodes`). It must differ from `PythonicFormat.parse` around the
    calls, because the variant is scored as BFCL decodes: the whole reply, stripped, must be the call list (or one
    call), where the pythonic format finds a list inside prose. ret_fmt=json cannot reuse the json format: BFCL's
    objects are `{"function": ..., "parameters": ...}` in a list (fenced as ```json), not `<tool_call>` blocks of
    `{"name": ..., "arguments": ...}`. The XML formats are new to toolgym.

    BFCL's decoder has a quirk that this parser keeps, because the accuracy must be BFCL's: in ret_fmt=json, a
    parameter whose value is a list of objects cuts the call list short (`_JSON_CALL_LIST`), so the reply counts as
    no calls however right it is.

    Known differences from BFCL's decoder, on text no variant asks for: argument values are read as literals and
    never evaluated, so `f(a=x)`, `f(a=1+2)`, nested calls and positional arguments are parse errors (BFCL reads a
    bare name as its string, evaluates arithmetic, ignores positional arguments), and `true`/`false`/`null` are
    read as JSON literals, as the pythonic format reads them (BFCL: the strings "true", ...). Tuples and sets
    become lists (toolgym's calls are JSON values).

    Args:
        config: The variant, e.g. `DEFAULT_CONFIG`; one of `CONFIGS` in BFCL's evaluation.
    """

    def __init__(self, config: str) -> None:
        super().__init__()
        self.variant = PromptVariant.parse(config)
        self.config = config
        self.name = f"bfcl:{config}"
        self.instructions = ""  # the whole prompt depends on the tools: see render_tools

    def render_tools(self, tools: list[dict[str, Any]], placement: str = "system") -> list[dict[str, str]]:
        """BFCL's system prompt, always as a system message (BFCL has no other placement)."""
        return [{"role": "system", "content": system_prompt(self.config, tools)}]

    def prompt_messages(self, tools: list[dict[str, Any]], first_turn: list[dict[str, Any]],
                        placement: str = "system") -> list[dict[str, Any]]:
        """The system prompt, merged into the turn's own system message when it opens with one (as BFCL does)."""
        prompt = system_prompt(self.config, tools)
        turn = [dict(m) for m in first_turn]
        if turn and turn[0].get("role") == "system":
            turn[0]["content"] = prompt + "\n\n" + turn[0]["content"]
            return turn
        return [{"role": "system", "content": prompt}, *turn]

    # -- calls ---------------------------------------------------------------------------------
    def render_calls(self, calls: list[ToolCall]) -> str:
        """The calls as the variant asks for them (an SFT target, and the tests' round trip).

        Raises:
            ValueError: A call the return format cannot write (see `PythonicFormat.render_calls`, and
                `_xml_value`).
        """
        ret = self.variant.return_format
        if ret == "python":
            body = PythonicFormat().render_calls(calls)
        elif ret == "json":
            # "</" only occurs inside JSON strings, where "<\/" reads the same: a value never closes the tag.
            objs = [{"function": c.name, "parameters": c.arguments} for c in calls]
            body = "```json\n" + json.dumps(objs, ensure_ascii=False).replace("</", "<\\/") + "\n```"
        elif ret == "verbose_xml":
            body = "<functions>" + "".join(
                f"<function name={quoteattr(c.name)}><params>"
                + "".join(f"<param name={quoteattr(k)} value={quoteattr(_xml_value(v))} type=\"{_xml_type(v)}\"/>"
                          for k, v in c.arguments.items())
                + "</params></function>" for c in calls) + "</functions>"
        else:
            body = "<functions>" + "".join(
                f"<function name={quoteattr(c.name)}>"
                + "".join(f"<param name={quoteattr(k)} type=\"{_xml_type(v)}\">{escape(_xml_value(v))}</param>"
                          for k, v in c.arguments.items())
                + "</function>" for c in calls) + "</functions>"
        return f"<TOOLCALL>{body}</TOOLCALL>" if self.variant.tool_call_tag else body

    def parse(self, text: str) -> ParseResult:
        """The calls of a reply, decoded as BFCL decodes this variant; never raises, never evaluates the text.

        A reply BFCL cannot decode gives no calls and `error` saying why (a missing tag, invalid syntax, ...).
        """
        if not isinstance(text, str):
            return ParseResult(error=f"expected text, got {type(text).__name__}")
        body = text.strip("`\n ")
        body = ("" if body.startswith("[") else "[") + body + ("" if body.endswith("]") else "]")
        if self.variant.tool_call_tag:
            m = _TOOLCALL.search(body)
            if m is None:
                return ParseResult(content=text.strip(), error="no <TOOLCALL>...</TOOLCALL> section")
            body = m.group(1).strip()
        ret = self.variant.return_format
        parse = _parse_python if ret == "python" else _parse_json if ret == "json" else _parse_xml
        calls, error = parse(body, ret)
        if error is not None:
            return ParseResult(content=text.strip(), error=error)
        return ParseResult(calls=calls)


def _parse_python(body: str, _: str) -> tuple[list[ToolCall], str | None]:
    try:
        tree = ast.parse(body.strip().strip("'"), mode="eval")  # BFCL drops quotes a model wraps the calls in
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        return [], f"invalid call syntax: {getattr(e, 'msg', e)}"
    if isinstance(tree.body, ast.Call):
        return calls_of_nodes([tree.body])
    if isinstance(tree.body, (ast.List, ast.Tuple, ast.Set)):
        return calls_of_nodes(tree.body.elts)
    return [], "expected a call or a list of calls"


def _parse_json(body: str, _: str) -> tuple[list[ToolCall], str | None]:
    m = _JSON_CALL_LIST.search(body)
    if m is None:
        return [], None  # BFCL reads a reply without a call list as no calls
    items, err = loads_or_error(m.group(0))
    if err is not None:
        return [], f"invalid JSON call list: {err}"
    calls = []
    for item in items:
        if not isinstance(item, dict):
            continue  # BFCL skips list items that are not objects
        name, args = item.get("function"), item.get("parameters")
        if not isinstance(name, str) or not isinstance(args, dict):
            return [], 'each call must be {"function": name, "parameters": {...}}'
        calls.append(ToolCall(name, args))
    return calls, None


def _parse_xml(body: str, ret: str) -> tuple[list[ToolCall], str | None]:
    m = _FUNCTIONS.search(body)
    if m is None:
        return [], "no <functions>...</functions> section"
    try:
        # ElementTree never fetches external entities, and expat (>= 2.4) refuses exponential entity expansion.
        root = ET.fromstring(m.group(0))
    except (ET.ParseError, ValueError, RecursionError) as e:
        return [], f"invalid XML: {e}"
    calls = []
    for func in root.findall("function"):
        if "name" not in func.attrib:
            return [], "a <function> has no name"
        args: dict[str, Any] = {}
        if ret == "verbose_xml":
            holder = func.find("params")
            for p in (holder if holder is not None else func).findall("param"):
                if "name" not in p.attrib:
                    return [], f"{func.attrib['name']}: a <param> has no name"
                value, err = _typed(p.attrib.get("value", ""), p.attrib.get("type", "string"))
                if err:
                    return [], f"{func.attrib['name']}: {err}"
                args[p.attrib["name"]] = value
        else:
            for p in func.findall("param"):
                if "name" not in p.attrib:
                    return [], f"{func.attrib['name']}: a <param> has no name"
                value, err = _typed((p.text or "").strip(), p.attrib.get("type", "string"))
                if err:
                    return [], f"{func.attrib['name']}: {err}"
                args[p.attrib["name"]] = value
        calls.append(ToolCall(func.attrib["name"], args))
    return calls, None


def _typed(raw: str, typ: str) -> tuple[Any, str | None]:
    """An XML parameter's value by its declared type, as BFCL converts it (unknown types stay strings)."""
    try:
        if typ == "integer":
            return int(raw), None
        if typ == "float":
            return float(raw), None
        if typ == "boolean":
            return raw.lower() == "true", None
        if typ == "null":
            return None, None
        if typ in ("array", "tuple", "object", "dict"):
            return _jsonish(ast.literal_eval(raw)), None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None, f"{raw[:50]!r} is not a valid {typ}"
    return raw, None


def _jsonish(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_jsonish(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonish(v) for k, v in value.items()}
    return value


def _xml_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "dict"
    return "string"


def _xml_value(value: Any) -> str:
    """A value as XML text: strings as they are, containers as Python literals (BFCL reads them so)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return py_literal(value) if isinstance(value, (list, tuple, dict)) else str(value)


# ---------------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------------


def base_task_ids(root: Any = None) -> dict[str, list[str]]:
    """BFCL's format-sensitivity tasks: `{category: [task id, ...]}` from BFCL_v4_format_sensitivity.json."""
    from envs.bfcl import data_dir

    path = (root or data_dir()) / "BFCL_v4_format_sensitivity.json"
    return json.loads(path.read_text(encoding="utf-8"))


def load_variants(limit: int | None = None) -> list[Task]:
    """BFCL's format_sensitivity tasks: each base task once per variant in `CONFIGS`.

    Args:
        limit: Keep the first `limit` base tasks, taken in turn from BFCL's categories (the first task of each
            category, then the second, ...), so that a few tasks already span simple, parallel, multiple and
            live tasks. Each is asked in all 26 variants: `limit * 26` tasks.

    Returns:
        Per base task, 26 Tasks (in `CONFIGS` order) with id `format_sensitivity:<config>:<base id>`, the base
        task's turns and ground truth, its functions with BFCL's Python hint twice (module doc), the base task's
        `category`, and `metadata` `{"bfcl_category": "format_sensitivity", "bfcl_base_category",
        "bfcl_prompt_format": <config>, "bfcl_scoring": "ast", "source": "bfcl"}`.

    Raises:
        ValueError: A task id of the id file is not in its category's data.
    """
    from envs import bfcl

    columns = []  # per category, its tasks in the order of its data file (BFCL's order)
    for category, wanted in base_task_ids().items():
        found = [t for t in bfcl.load(category) if t.id in set(wanted)]
        missing = sorted(set(wanted) - {t.id for t in found})
        if missing:
            raise ValueError(f"BFCL_v4_format_sensitivity.json: {category} has no task {missing[:3]}")
        columns.append(found)
    picked = [t for row in itertools.zip_longest(*columns) for t in row if t is not None][:limit]
    tasks = []
    for base in picked:
        tools = [{**fn, "description": fn.get("description", "") + PYTHON_HINT * 2} for fn in base.tools]
        # Fresh copies for each variant (the tasks must not share mutable lists); BFCL's data is JSON.
        data = json.dumps([base.turns, tools, base.ground_truth])
        for config in CONFIGS:
            turns, tools_, ground_truth = json.loads(data)
            metadata = {**base.metadata, "bfcl_category": "format_sensitivity", "bfcl_prompt_format": config,
                        "bfcl_base_category": base.metadata["bfcl_category"]}
            tasks.append(Task(id=f"format_sensitivity:{config}:{base.id}", category=base.category, turns=turns,
                              tools=tools_, ground_truth=ground_truth, domains=[], metadata=metadata))
    return tasks
