"""envs/bfcl_formats.py: BFCL's format-sensitivity prompt variants, against BFCL's own prompt builder, reply
decoder and format-sensitivity scorer (tests/oracles/bfcl_formats.py)."""

import random
from collections import Counter

import pytest

from envs import bfcl
from envs.bfcl_formats import CONFIGS, DEFAULT_CONFIG, BFCLPromptFormat, PromptVariant
from envs.types import ToolCall
from rewards import ast_match
from rl.eval import bfcl_score
from tests.oracles import bfcl_ast
from tests.oracles import bfcl_formats as oracle


@pytest.fixture(scope="module")
def tasks():
    return bfcl.load("format_sensitivity")


@pytest.fixture(scope="module")
def by_base(tasks):
    """The 200 base tasks, each as its 26 variant tasks in CONFIGS order."""
    out: dict[str, list] = {}
    for t in tasks:
        out.setdefault(t.id.rsplit(":", 1)[1], []).append(t)
    return out


def _case(task):
    return bfcl_ast.Case(task.id, task.metadata["bfcl_base_category"], task.tools, task.ground_truth[0])


def _official_verdict(task, text):
    """BFCL's verdict on one reply, by its format-sensitivity path (`_evaluate_single_ast_entry`)."""
    o = oracle.official()
    config, base_id = task.metadata["bfcl_prompt_format"], task.id.rsplit(":", 1)[1]
    entry = oracle.official_entries()[f"{config}:{base_id}"]
    ret, tag, *_ = o.handler_utils.parse_prompt_variation_params(config)
    handler = type("Handler", (), {"decode_ast": staticmethod(o.handler_utils.default_decode_ast_prompting)})
    out = o.eval_runner._evaluate_single_ast_entry(
        handler, f"format_sensitivity_0:{config}:{base_id}", text, task.ground_truth[0], entry, bfcl_ast.ORACLE_MODEL,
        "format_sensitivity", o.eval_runner.Language.PYTHON, o.ReturnFormat(ret), tag)
    return out["valid"]


def _our_verdict(task, text):
    calls = BFCLPromptFormat(task.metadata["bfcl_prompt_format"]).parse(text).calls
    return ast_match.check(task.tools, calls, task.ground_truth[0]).valid


# ---------------------------------------------------------------------------------------------------
# Variants and tasks
# ---------------------------------------------------------------------------------------------------


def test_the_variants_are_bfcl_s_26_in_its_order():
    o = oracle.official()
    assert list(CONFIGS) == o.configs and len(CONFIGS) == 26
    assert DEFAULT_CONFIG == o.prompts.DEFAULT_SYSTEM_PROMPT_FORMAT
    for config in CONFIGS:
        v = PromptVariant.parse(config)
        assert (v.return_format, v.tool_call_tag, v.doc_format, v.layout, v.style) == \
            o.handler_utils.parse_prompt_variation_params(config)
    with pytest.raises(ValueError, match="not a BFCL prompt format"):
        PromptVariant.parse(DEFAULT_CONFIG.replace("python", "yaml", 1))


def test_tasks_are_bfcl_s_entries_and_limit_takes_base_tasks_in_turn_from_each_category(tasks):
    entries, answers = oracle.official_entries(), oracle.official_ground_truth()
    assert sorted(t.id.split(":", 1)[1] for t in tasks) == sorted(entries)  # the same 200 x 26
    for t in tasks:
        entry = entries[t.id.split(":", 1)[1]]
        base_id = t.id.rsplit(":", 1)[1]
        # BFCL's functions (its Python hint, twice: module doc), question and possible answer.
        assert t.tools == entry["function"] and t.turns == entry["question"] and t.ground_truth == [answers[base_id]]
        assert t.metadata["bfcl_category"] == "format_sensitivity" and t.metadata["bfcl_scoring"] == "ast"
    few = bfcl.load("format_sensitivity", limit=3)
    assert len(few) == 3 * 26 and [t.metadata["bfcl_prompt_format"] for t in few[:26]] == list(CONFIGS)
    assert [t.metadata["bfcl_base_category"] for t in few[::26]] == ["simple_python", "parallel", "multiple"]


def test_the_prompt_is_bfcl_s_for_every_variant(by_base):
    """Differential: the whole first-turn message list, BFCL's system prompt merged into a task's own system
    message; every variant of a quarter of the tasks and of every task that opens with a system message."""
    entries = oracle.official_entries()
    picked = [b for k, b in enumerate(sorted(by_base)) if k % 4 == 0 or by_base[b][0].turns[0][0]["role"] == "system"]
    for base_id in picked:
        for t in by_base[base_id]:
            ours = BFCLPromptFormat(t.metadata["bfcl_prompt_format"]).prompt_messages(t.tools, t.turns[0])
            assert ours == oracle.official_messages(entries[t.id.split(":", 1)[1]]), t.id
    assert len(picked) > 50 and sum(by_base[b][0].turns[0][0]["role"] == "system" for b in picked) == 7


# ---------------------------------------------------------------------------------------------------
# Return formats: round trip, and BFCL's decoder and verdicts on the same replies
# ---------------------------------------------------------------------------------------------------


def _has_list_of_objects(calls):
    return any(isinstance(v, list) and any(isinstance(x, dict) for x in v) for c in calls for v in c.arguments.values())


def test_ground_truth_calls_round_trip_in_every_variant_and_bfcl_decodes_the_same(by_base):
    """Every base task's ground-truth calls, written in each variant's return format, parse back to the calls, and
    BFCL's decoder reads the same calls. Except where BFCL cannot: a JSON call whose parameter is a list of objects
    (its lazy regex, envs/bfcl_formats.py); there both sides read no calls."""
    rng = random.Random(0)
    n, quirk = 0, set()
    for base_id, variants in by_base.items():
        calls = bfcl_ast.derive_calls(_case(variants[0]), rng, "first")
        for t in variants:
            fmt = BFCLPromptFormat(t.metadata["bfcl_prompt_format"])
            text = fmt.render_calls(calls)
            parsed, official = fmt.parse(text), oracle.official_decode(text, fmt.config)
            if fmt.variant.return_format == "json" and _has_list_of_objects(calls):
                assert parsed.calls == official == [], (t.id, text)
                quirk.add(base_id)
                continue
            assert parsed.error is None and parsed.calls == calls, (t.id, text)
            assert official == [{c.name: c.arguments} for c in calls], (t.id, text)
            n += 1
    assert n == 200 * 26 - len(quirk) * 6 and len(quirk) < 10


def _replies(task, calls, rng):
    """Replies to a variant: the calls in its format, and in the ways models get it wrong."""
    config = task.metadata["bfcl_prompt_format"]
    fmt = BFCLPromptFormat(config)
    text = fmt.render_calls(calls)
    v = fmt.variant
    other_ret = rng.choice([r for r in ("python", "json", "verbose_xml", "concise_xml") if r != v.return_format])
    other = config.replace(f"ret_fmt={v.return_format}", f"ret_fmt={other_ret}")
    toggled = config.replace(f"tool_call_tag={v.tool_call_tag}", f"tool_call_tag={not v.tool_call_tag}")
    out = {
        "exact": text,
        "fenced": f"```\n{text}\n```",
        "prose_before": f"Sure, here are the calls: {text}",
        "prose_after": f"{text}\nLet me know if you need anything else.",
        "whitespace": f"\n  {text}  \n",
        "quoted": f"'{text}'",
        "truncated": text[: rng.randrange(1, max(2, len(text)))],
        "other_return_format": BFCLPromptFormat(other).render_calls(calls),
        "tag_toggled": BFCLPromptFormat(toggled).render_calls(calls),
        "prose": "I cannot answer that with the given functions.",
    }
    if len(calls) == 1:
        out["one_call_unbracketed"] = text.replace("[", "", 1)[::-1].replace("]", "", 1)[::-1] \
            if v.return_format == "python" else text
    return out


def test_bfcl_s_verdicts_on_replies_in_and_out_of_each_variant_s_format(by_base):
    """Differential over every variant: replies rendered from ground-truth-derived and perturbed calls
    (tests/oracles/bfcl_ast.py), each also fenced, wrapped in prose, truncated, in another return format, with the
    tag toggled. toolgym's verdict (parse + rewards.ast_match) must equal BFCL's (decode + ast_checker)."""
    rng = random.Random(1)
    agree, kinds, disagreements = Counter(), Counter(), []
    for base_id in sorted(by_base)[::5]:  # 40 base tasks x 26 variants
        variants = by_base[base_id]
        pairs = bfcl_ast.make_pairs([_case(variants[0])], per_case=4, seed=rng.randrange(10**6))
        for t in variants:
            pair = rng.choice(pairs)
            try:
                replies = _replies(t, pair.calls, rng)
            except ValueError:  # a perturbed call Python cannot write (e.g. a keyword name); not a reply
                continue
            for kind, text in replies.items():
                ours, theirs = _our_verdict(t, text), _official_verdict(t, text)
                kinds[kind, theirs] += 1
                agree[ours == theirs] += 1
                if ours != theirs:
                    disagreements.append((t.id, kind, text[:200], ours, theirs))
    print(f"verdict agreement {agree[True]}/{sum(agree.values())}; BFCL's verdicts by kind: {sorted(kinds.items())}")
    assert not disagreements, disagreements[:5]
    assert agree[True] > 9000
    # The replies exercise both verdicts in and out of format: not a test that passes on one side only.
    assert kinds["exact", True] > 500 and kinds["exact", False] > 100
    assert kinds["prose", True] == 0 and kinds["truncated", False] > 500
    # Another variant's syntax passes only where the two read alike (both XML forms of a call without arguments).
    assert kinds["other_return_format", True] < kinds["other_return_format", False] / 20


def test_parse_is_total_on_cut_and_spliced_replies():
    rng = random.Random(2)
    calls = [ToolCall("f", {"a": 1, "b": "x<y>&'\"", "c": [1.5, None], "d": {"k": True}}), ToolCall("g.h", {})]
    texts = [BFCLPromptFormat(c).render_calls(calls) for c in CONFIGS]
    for config in CONFIGS:
        fmt = BFCLPromptFormat(config)
        assert fmt.parse(fmt.render_calls(calls)).calls == calls
        for _ in range(200):
            a, b = rng.choice(texts), rng.choice(texts)
            i, j = rng.randrange(len(a) + 1), rng.randrange(len(b) + 1)
            res = fmt.parse(a[:i] + b[j:])  # never raises
            assert res.calls == [] or res.error is None
    assert BFCLPromptFormat(DEFAULT_CONFIG).parse(None).error == "expected text, got NoneType"


# ---------------------------------------------------------------------------------------------------
# Scoring: BFCL's format_sensitivity_runner on the same replies
# ---------------------------------------------------------------------------------------------------


def test_per_variant_accuracy_and_spread_equal_bfcl_s_runner(by_base):
    """Replies whose quality depends on the variant (each variant gets its own error rate), scored by toolgym
    (parse + rewards.ast_match, then rl/eval/bfcl_score.py) and by BFCL's `format_sensitivity_runner`: every
    per-variant accuracy, the category's accuracy, the max delta, variance and standard deviation must be equal."""
    rng = random.Random(3)
    error_rate = {c: rng.random() for c in CONFIGS}
    verdicts: dict[str, list[bool]] = {c: [] for c in CONFIGS}
    replies = []
    for base_id in sorted(by_base)[::10]:  # 20 base tasks x 26 variants
        variants = by_base[base_id]
        calls = bfcl_ast.derive_calls(_case(variants[0]), rng, "first")
        for t in variants:
            config = t.metadata["bfcl_prompt_format"]
            text = BFCLPromptFormat(config).render_calls(calls)
            if rng.random() < error_rate[config]:
                text = rng.choice(["I need more information.", text[: len(text) // 2], f"Calls: {text}"])
            replies.append((config, base_id, text))
            verdicts[config].append(_our_verdict(t, text))
    ours = bfcl_score.format_sensitivity({c: (sum(v) / len(v), len(v)) for c, v in verdicts.items()})
    theirs = oracle.official_runner_header(replies)
    assert ours["n"] == theirs["total_count"] == 20 * 26
    assert ours["accuracy"] == pytest.approx(theirs["correct_count"] / theirs["total_count"])
    for config in CONFIGS:
        assert ours["configs"][config]["accuracy"] == pytest.approx(theirs[config]["accuracy"]), config
        assert ours["configs"][config]["n"] == theirs[config]["total_count"] == 20
    assert ours["accuracy_std"] > 5  # the variants really differ: the spread is not trivially 0
    for key in ("accuracy_max_delta", "accuracy_variance", "accuracy_std"):
        assert ours[key] == theirs[key], key
    assert ours["complete"] is False and "partial" in ours["label"]
