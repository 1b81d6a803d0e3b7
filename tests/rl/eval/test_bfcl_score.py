"""rl/eval/bfcl_score.py: BFCL's summaries and overall score, against BFCL's own category lists and weights."""

import ast

import pytest

from envs import bfcl
from rl.eval import bfcl_score
from rl.eval.evaluate import BFCL_CATEGORIES


def test_categories_are_bfcl_s_and_every_one_runs_or_says_why():
    from bfcl_eval.constants import category_mapping  # imports nothing else

    assert set(bfcl_score.ALL_CATEGORIES) == set(category_mapping.ALL_CATEGORIES)
    assert set(bfcl_score.MEMORY) == set(category_mapping.MEMORY_CATEGORY)
    assert set(bfcl_score.MULTI_TURN) == set(category_mapping.MULTI_TURN_CATEGORY)
    # What evaluation runs is exactly what envs.bfcl loads; the rest has a reason.
    assert set(BFCL_CATEGORIES) == set(bfcl.BFCL_CATEGORIES)
    assert set(BFCL_CATEGORIES) | set(bfcl_score.NOT_RUN) == set(bfcl_score.ALL_CATEGORIES)
    assert not set(BFCL_CATEGORIES) & set(bfcl_score.NOT_RUN)


def test_overall_weights_are_those_of_bfcl_s_score_code():
    """Reads `generate_leaderboard_csv` in bfcl_eval's source (importing it would pull in every model SDK)."""
    path = bfcl.data_dir().parent / "eval_checker" / "eval_runner_helper.py"
    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) == "calculate_percentage_weighted_accuracy"]
    (call,) = calls
    parts = [elt.id for elt in call.args[0].elts]
    weights = ast.literal_eval(call.args[1])
    assert parts == ["overall_accuracy_non_live", "overall_accuracy_live", "total_irrelevance",
                     "overall_accuracy_multi_turn", "overall_accuracy_agentic"]
    assert list(bfcl_score.LEADERBOARD_WEIGHTS.values()) == weights
    assert list(bfcl_score.LEADERBOARD_WEIGHTS) == ["non_live", "live", "irrelevance", "multi_turn", "agentic"]


def _all(accuracy=0.5, n=10):
    return {c: (accuracy, n) for c in bfcl_score.ALL_CATEGORIES if c != "format_sensitivity"}


def test_summaries_follow_bfcl_s_rules_on_a_full_run():
    scores = _all()
    scores.update(simple_python=(0.9, 10), simple_java=(0.3, 10), simple_javascript=(0.0, 10))  # simple: 0.4
    scores.update(live_simple=(1.0, 30), live_multiple=(0.0, 10))  # live, weighted by count: (30 + 0.5*20)/60
    scores.update(multi_turn_base=(0.2, 200), memory_kv=(0.8, 5))
    out = bfcl_score.summarize(scores)
    s = out["summaries"]
    assert s["non_live"] == pytest.approx((0.4 + 0.5 + 0.5 + 0.5) / 4)
    assert s["live"] == pytest.approx(40 / 60)
    assert s["multi_turn"] == pytest.approx((0.2 + 0.5 * 3) / 4)  # unweighted: 200 tasks count as one category
    assert s["agentic"] == pytest.approx((0.5 + (0.8 + 0.5 + 0.5) / 3) / 2)
    want = (10 * s["non_live"] + 10 * s["live"] + 10 * 0.5 + 30 * s["multi_turn"] + 40 * s["agentic"]) / 100
    assert s["overall"] == pytest.approx(want)
    assert out["partial"]["overall"] == pytest.approx(want)  # nothing missing: partial is the official score


def test_a_missing_category_makes_its_summaries_and_the_overall_n_a_with_a_labelled_partial_score():
    # What cannot run here, and the two other simple categories, are missing.
    missing = set(bfcl_score.NOT_RUN) | {"simple_java", "simple_javascript"}
    scores = {c: v for c, v in _all().items() if c not in missing}
    scores["simple_python"] = (1.0, 10)
    scores.update(memory_kv=(0.9, 3), memory_rec_sum=(0.1, 30))  # memory_vector and web search do not run
    out = bfcl_score.summarize(scores)
    s, p = out["summaries"], out["partial"]
    assert s["non_live"] is None and s["memory"] is None and s["agentic"] is None and s["overall"] is None
    assert s["live"] == s["irrelevance"] == s["multi_turn"] == pytest.approx(0.5)
    assert p["non_live"] == pytest.approx((1.0 + 0.5 * 3) / 4)  # simple over Python alone
    assert p["web_search"] is None and p["memory"] == pytest.approx(0.5)  # kv and rec_sum, unweighted
    assert p["agentic"] == pytest.approx(0.5)  # memory alone: web search leaves the group
    assert p["overall_covers"] == {"non_live": 10, "live": 10, "irrelevance": 10, "multi_turn": 30, "agentic": 40}
    assert p["overall"] == pytest.approx((10 * p["non_live"] + 10 * 0.5 + 10 * 0.5 + 30 * 0.5 + 40 * 0.5) / 100)
    web_only = bfcl_score.summarize({"web_search_base": (1.0, 5)})["partial"]
    assert web_only["agentic"] == 1.0 and web_only["memory"] is None
    assert "not a leaderboard number" in p["label"]
    assert bfcl_score.summarize({})["partial"]["overall"] is None


def test_java_and_javascript_run_and_complete_the_non_live_summary():
    assert {"simple_java", "simple_javascript"} <= set(BFCL_CATEGORIES)
    assert not {"simple_java", "simple_javascript"} & set(bfcl_score.NOT_RUN)
    scores = {c: v for c, v in _all().items() if c not in bfcl_score.NOT_RUN}
    scores.update(simple_python=(0.9, 10), simple_java=(0.3, 10), simple_javascript=(0.0, 10))
    s = bfcl_score.summarize(scores)["summaries"]
    assert s["non_live"] == pytest.approx((0.4 + 0.5 + 0.5 + 0.5) / 4)  # simple: the mean of the three
    assert s["agentic"] is None and s["overall"] is None  # web search and memory still cannot run here


@pytest.mark.parametrize("fmt", ["json", "pythonic"])
def test_java_and_javascript_calls_written_in_a_format_are_scored_by_bfcl_s_type_rules(fmt):
    """A model writes Java/JavaScript arguments as strings of source text, in any format; `bfcl_verdict` reads
    them by the declared types. A JSON boolean where source text is due fails, as in BFCL."""
    from envs.formats import get_format
    from envs.types import Episode, Step, ToolCall
    from rl.eval.evaluate import bfcl_verdict
    from rl.rollout.episodes import Trajectory

    java = bfcl.load("simple_java", limit=2)[1]  # params: a HashMap; useShortName: a boolean
    js = bfcl.load("simple_javascript", limit=3)[2]  # status: an array of Strings
    hashmap = 'new HashMap<String, Object>() {{ put("limit", 50); put("schemaFilter", "public"); }}'
    cases = [
        (java, {"object": "Customers", "useShortName": "true", "params": hashmap}, True),
        (java, {"object": "Customers", "useShortName": True, "params": hashmap}, False),  # not source text
        (java, {"object": "Customers", "useShortName": "true", "params": "{limit: 50, schemaFilter: public}"}, False),
        (js, {"filepath": "'/var/log/db.log'", "status": "['completed', 'failed']", "encoding": '"utf-8"',
              "processFunction": "processFunction"}, True),
        (js, {"filepath": "/var/log/db.log", "status": "['failed', 'completed']", "encoding": "utf-8",
              "processFunction": "processFunction"}, False),
    ]
    form = get_format(fmt)
    for task, args, want in cases:
        (name,) = task.ground_truth[0][0]
        text = form.render_calls([ToolCall(name, args)])
        parsed = form.parse(text)
        assert parsed.error is None and parsed.calls[0].arguments == args, text
        tr = Trajectory(task.id, 0, [], [], [], [], Episode(task.id, [Step(turn=0, text=text, calls=parsed.calls)]), {})
        assert bfcl_verdict(task, tr) is want, (task.id, args)


def test_format_sensitivity_spread_is_bfcl_s_sample_statistics_in_points():
    # Worked by hand: accuracies 0.5, 1.0, 0.25 (mean 7/12); sample variance (1/144 + 25/144 + 16/144) / 2 = 7/48.
    out = bfcl_score.format_sensitivity({"a": (0.5, 4), "b": (1.0, 4), "c": (0.25, 8)}, complete=True)
    assert out["accuracy_max_delta"] == 75.0
    assert out["accuracy_variance"] == round(7 / 48 * 10_000, 2) == 1458.33
    assert out["accuracy_std"] == round((7 / 48) ** 0.5 * 100, 2) == 38.19
    assert out["accuracy"] == pytest.approx((2 + 4 + 2) / 16) and out["n"] == 16  # over tasks, not variants
    assert out["configs"]["c"] == {"accuracy": 0.25, "n": 8} and out["complete"] and "label" not in out
    one = bfcl_score.format_sensitivity({"a": (0.5, 4)})
    assert one["accuracy_std"] == one["accuracy_max_delta"] == one["accuracy_variance"] == 0.0  # BFCL: < 2 variants
    assert "not a leaderboard number" in one["label"]
    assert bfcl_score.format_sensitivity({})["accuracy"] is None


def test_format_sensitivity_is_in_no_summary_as_in_bfcl():
    scores = _all()
    base = bfcl_score.summarize(scores)
    scores["format_sensitivity"] = (0.0, 5200)
    assert bfcl_score.summarize(scores) == base


def test_memory_vector_does_not_run_because_its_module_loads_an_embedding_model_from_the_hub():
    """Reads memory_vector.py: it builds a SentenceTransformer at import; kv and rec_sum need no model."""
    backends = bfcl.data_dir().parent / "eval_checker" / "multi_turn_eval" / "func_source_code"
    tree = ast.parse((backends / "memory_vector.py").read_text())
    loads = [n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
             and getattr(n.value.func, "id", None) == "SentenceTransformer"]
    assert [ast.literal_eval(call.args[0]) for call in loads] == ["all-MiniLM-L6-v2"]
    assert "all-MiniLM-L6-v2" in bfcl_score.NOT_RUN["memory_vector"]
    for runs in ("memory_kv", "memory_rec_sum"):
        assert "SentenceTransformer" not in (backends / f"{runs}.py").read_text() and runs in BFCL_CATEGORIES


def test_open_mode_bfcl_tasks_get_turns_to_search_and_are_judged_on_the_calls_alone():
    """In open mode a single-turn BFCL task needs a step to search before it can call, and BFCL's verdict
    judges the calls made with the tools found, not the searches."""
    from envs.open_world import SEARCH_TOOL_NAME, open_task
    from envs.types import Episode, Step, ToolCall
    from rl.eval.evaluate import bfcl_verdict, is_one_shot
    from rl.rollout.episodes import Trajectory

    simple, irrelevant = bfcl.load("simple_python", limit=1)[0], bfcl.load("irrelevance", limit=1)[0]
    assert is_one_shot(simple) and not is_one_shot(open_task(simple))
    (name, args), = simple.ground_truth[0][0].items()
    right = ToolCall(name, {k: v[0] for k, v in args.items() if v[0] != ""})
    search = ToolCall(SEARCH_TOOL_NAME, {"query": simple.turns[0][-1]["content"], "k": 3})

    def verdict(task, *steps):
        episode = Episode(task.id, [Step(turn=0, text="", calls=calls) for calls in steps])
        return bfcl_verdict(task, Trajectory(task.id, 0, [], [], [], [], episode, {}))

    assert verdict(open_task(simple), [search], [right])  # searched, then called right
    assert not verdict(open_task(simple), [search])  # searched and never called
    assert not verdict(simple, [search], [right])  # golden mode: a search is a call like any other
    assert verdict(open_task(irrelevant), [search])  # irrelevance: searching is not calling
    assert not verdict(open_task(irrelevant), [search], [right])
