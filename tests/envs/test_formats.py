"""Tool-call formats: round-trip properties and golden parses of realistic model output."""

import keyword
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from envs.formats import ANSWER, USE_TOOL, get_format, render_tool
from envs.types import ToolCall

# ---------------------------------------------------------------------------------------------------
# Property: parse(render_calls(calls)) == calls
# ---------------------------------------------------------------------------------------------------

_ident = st.text(string.ascii_letters + "_", min_size=1, max_size=1).flatmap(
    lambda head: st.text(string.ascii_letters + string.digits + "_", max_size=8).map(lambda tail: head + tail)
).filter(lambda s: not keyword.iskeyword(s) and s not in ("true", "false", "null"))
_name = st.lists(_ident, min_size=1, max_size=3).map(".".join)
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
) | st.sampled_from(["it's", 'say "hi"', "both ' and \"", "naïve café ☕", "line\nbreak", "back\\slash", "]", "[a(b=1)]"])
_scalar = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False) | _text
_value = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_calls = st.lists(
    st.builds(ToolCall, name=_name, arguments=st.dictionaries(_ident, _value, max_size=5)), min_size=1, max_size=4
)


@pytest.mark.parametrize("name", ["json", "pythonic", "decision", "decision-json"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=_calls)
# Found by --hypothesis-seed=112: a JSON string holding the closing tag ended the <tool_call> block early.
@example(calls=[ToolCall("A", {"A": {"</tool_call>": None}, "b": "x</tool_call>y"})])
def test_parse_inverts_render_calls(name, calls):
    fmt = get_format("decision", decision_inner="json") if name == "decision-json" else get_format(name)
    res = fmt.parse(fmt.render_calls(calls))
    assert res.error is None
    assert res.calls == calls
    assert res.content == ""


@pytest.mark.parametrize("name", ["json", "pythonic", "decision"])
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_parse_is_total(name, text):
    res = get_format(name).parse(text)
    assert isinstance(res.calls, list)
    assert res.error is None or isinstance(res.error, str)


class _HermesTok:
    """A tokenizer stand-in with a Hermes-style template and no response parser (native falls back to JSON)."""

    chat_template = "{% if tools %}<tools>{{ tools }}</tools>{% endif %} ... <tool_call>"
    response_template = None


def _format(name: str):
    if name == "decision-json":
        return get_format("decision", decision_inner="json")
    return get_format(name, tokenizer=_HermesTok()) if name == "native" else get_format(name)


# Literals past what Python and json will convert (an int of more than 4300 digits raises ValueError), and
# nesting past the interpreter's recursion limit, inside every place a format looks for a call.
_huge_literal = st.one_of(
    st.integers(4301, 100_000).map(lambda n: "7" * n),
    st.integers(4301, 20_000).map(lambda n: "-" + "1" * n + ".5"),
    st.sampled_from(["1e999999", "-1e999999", "0x" + "f" * 5000]),
)
_deep = st.tuples(st.integers(200, 100_000), st.sampled_from(["[]", "{}", "()", '{"a":', "f("]), st.booleans()).map(
    lambda t: (t[1][:-1] if len(t[1]) == 2 else t[1]) * t[0] + ("" if t[2] else ("1" + "}" * t[0] if t[1] == '{"a":' else
                                                               (")" if t[1] == "f(" else t[1][-1]) * t[0]))
)
_wrappers = [
    '<tool_call>{{"name": "f", "arguments": {{"x": {}}}}}</tool_call>',
    '<tool_call>{{"name": "f", "arguments": "{{\\"x\\": {}}}"}}</tool_call>',
    '{{"name": "f", "arguments": {{"x": {}}}}}',
    '```json\n{{"name": "f", "arguments": {{"x": {}}}}}\n```',
    "[f(x={})]",
    "{}",
    USE_TOOL + "[f(x={})]",
    USE_TOOL + '<tool_call>{{"name": "f", "arguments": {{"x": {}}}}}</tool_call>',
]


@pytest.mark.parametrize("name", ["json", "pythonic", "decision", "decision-json", "native"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(payload=_huge_literal | _deep, wrapper=st.sampled_from(_wrappers))
@example(payload="7" * 100_000, wrapper=_wrappers[0])  # a 100,000-digit integer once raised ValueError in json
@example(payload="[" * 100_000 + "]" * 100_000, wrapper=_wrappers[1])  # once RecursionError
def test_parse_is_total_on_huge_literals_and_deep_nesting(name, payload, wrapper):
    res = _format(name).parse(wrapper.format(payload))
    assert isinstance(res.calls, list)
    assert res.error is None or isinstance(res.error, str)


@pytest.mark.parametrize("name", ["json", "pythonic", "decision"])
@settings(max_examples=200, deadline=None)
@given(calls=_calls, cut=st.floats(0.05, 0.95))
def test_truncated_output_never_raises_and_is_not_silently_complete(name, calls, cut):
    fmt = get_format(name)
    full = fmt.render_calls(calls)
    res = fmt.parse(full[: int(len(full) * cut)])
    # A cut-off rendering is either flagged, or recovers only a strict prefix of the calls.
    assert res.error is not None or len(res.calls) < len(calls) or res.calls != calls


# ---------------------------------------------------------------------------------------------------
# Golden: realistic outputs
# ---------------------------------------------------------------------------------------------------


def test_toolace_style_dotted_parallel_calls():
    text = '[sales_growth.calculate(company="XYZ", years=3), financial_ratios.interest_coverage(company_name="XYZ", years=3)]'
    res = get_format("pythonic").parse(text)
    assert res.error is None
    assert res.calls == [
        ToolCall("sales_growth.calculate", {"company": "XYZ", "years": 3}),
        ToolCall("financial_ratios.interest_coverage", {"company_name": "XYZ", "years": 3}),
    ]


def test_several_tool_call_blocks_with_prose_between():
    text = (
        "Let me check both cities.\n"
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n'
        "and then\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}\n</tool_call>'
    )
    res = get_format("json").parse(text)
    assert res.error is None
    assert [c.arguments["city"] for c in res.calls] == ["Paris", "Oslo"]
    assert res.content == "Let me check both cities.\n\nand then"


@pytest.mark.parametrize(
    "name,text",
    [
        ("json", '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'),
        ("json", '<tool_call>\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```\n</tool_call>'),
        ("pythonic", "```python\n[get_weather(city='Paris')]\n```"),
        ("pythonic", "Sure!\n```\n[get_weather(city='Paris')]\n```"),
    ],
)
def test_calls_inside_code_fences(name, text):
    res = get_format(name).parse(text)
    assert res.error is None
    assert res.calls == [ToolCall("get_weather", {"city": "Paris"})]


def test_truncated_json_is_an_error_not_an_exception():
    res = get_format("json").parse('<tool_call>{"name": "get_weather", "arguments": {"city": "Par')
    assert res.calls == []
    assert "unterminated" in res.error
    res = get_format("json").parse('<tool_call>{"name": "get_weather", "arguments": {"city": "Par</tool_call>')
    assert res.calls == [] and "invalid JSON" in res.error


def test_truncated_pythonic_is_an_error():
    res = get_format("pythonic").parse("[get_weather(city='Par")
    assert res.calls == [] and res.error


@pytest.mark.parametrize("name", ["pythonic", "json"])
def test_empty_list_means_no_call(name):
    res = get_format(name).parse("[]")
    assert res.calls == [] and res.error is None


@pytest.mark.parametrize("name", ["json", "pythonic"])
def test_plain_prose_is_an_answer(name):
    text = "I can't book flights, but the weather in Paris is usually mild in May [citation needed]."
    res = get_format(name).parse(text)
    assert res.calls == [] and res.error is None and res.content == text


def test_pythonic_rejects_code_that_is_not_a_literal_and_never_evaluates_it():
    res = get_format("pythonic").parse("[get_weather(city=__import__('os').system('echo pwned'))]")
    assert res.calls == [] and "not a literal" in res.error
    res = get_format("pythonic").parse("[get_weather('Paris')]")
    assert "positional" in res.error


def test_pythonic_accepts_a_bare_single_call_and_json_literals():
    res = get_format("pythonic").parse("get_weather(city='Paris', metric=true, extra=null)")
    assert res.calls == [ToolCall("get_weather", {"city": "Paris", "metric": True, "extra": None})]


def test_pythonic_tuples_become_lists():
    res = get_format("pythonic").parse("[route(points=(1, 2), pairs=[(1, 'a')])]")
    assert res.calls[0].arguments == {"points": [1, 2], "pairs": [[1, "a"]]}


def test_decision_format_tokens():
    fmt = get_format("decision")
    assert fmt.parse(f"{USE_TOOL}[f(x=1)]").calls == [ToolCall("f", {"x": 1})]
    assert fmt.parse(f"{USE_TOOL}[f(x=1)]").decision == "use_tool"
    ans = fmt.parse(f"{ANSWER}No tool fits that.")
    assert ans.decision == "answer" and ans.calls == [] and ans.content == "No tool fits that." and ans.error is None
    assert "not followed by any call" in fmt.parse(f"{USE_TOOL}sorry").error
    missing = fmt.parse("[f(x=1)]")
    assert missing.calls == [ToolCall("f", {"x": 1})] and "missing decision token" in missing.error
    assert fmt.render_answer("hi") == f"{ANSWER}hi"


def test_json_arguments_as_a_json_string_are_accepted():
    res = get_format("json").parse('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>')
    assert res.calls == [ToolCall("f", {"x": 1})]


def test_json_non_call_objects_are_errors_inside_tags_and_prose_outside():
    assert get_format("json").parse('<tool_call>{"foo": 1}</tool_call>').error
    # A JSON object without the call shape, outside tags, is just content.
    res = get_format("json").parse('{"temperature": 21}')
    assert res.calls == [] and res.error is None


# ---------------------------------------------------------------------------------------------------
# Tool rendering: OpenAI and BFCL function-doc forms
# ---------------------------------------------------------------------------------------------------

OPENAI_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather.\nMore lines.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                "days": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["city"],
        },
    },
}
BFCL_TOOL = {
    "name": "math.hypot",
    "description": "Euclidean norm.",
    "parameters": {
        "type": "dict",
        "properties": {"x": {"type": "float"}, "y": {"type": "float"}, "pt": {"type": "tuple", "items": {"type": "float"}}},
        "required": ["x", "y"],
    },
}


def test_compact_rendering_of_both_tool_forms():
    assert render_tool(OPENAI_TOOL, "compact") == (
        'get_weather(city: str, unit: "celsius"|"fahrenheit" = "celsius", days?: list[int]) - Get the weather'
    )
    assert render_tool(BFCL_TOOL, "compact") == "math.hypot(x: float, y: float, pt?: list[float]) - Euclidean norm"


@pytest.mark.parametrize("placement", ["system", "tools_role"])
def test_render_tools_placement(placement):
    msgs = get_format("json").render_tools([OPENAI_TOOL, BFCL_TOOL], placement)
    roles = [m["role"] for m in msgs]
    assert roles == (["system"] if placement == "system" else ["system", "tools"])
    assert "get_weather" in msgs[-1]["content"] and "math.hypot" in msgs[-1]["content"]
    assert "<tool_call>" in msgs[0]["content"]


def test_bad_placement_and_unknown_format_are_clear_errors():
    with pytest.raises(ValueError, match="placement"):
        get_format("json").render_tools([OPENAI_TOOL], "user")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        get_format("xml")


def test_native_format_refuses_a_template_without_tools():
    class Tok:
        chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"

    with pytest.raises(ValueError, match="no tools support"):
        get_format("native", tokenizer=Tok())


def test_native_format_with_hermes_template_parses_tool_call_blocks():
    class Tok:
        chat_template = "{% if tools %}<tools>{{ tools }}</tools>{% endif %} ... <tool_call>"
        response_template = None

    fmt = get_format("native", tokenizer=Tok())
    assert fmt.render_tools([OPENAI_TOOL]) == []
    assert fmt.template_kwargs([BFCL_TOOL])["tools"][0]["function"]["parameters"]["type"] == "object"
    res = fmt.parse('<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>')
    assert res.calls == [ToolCall("f", {"a": 1})]
