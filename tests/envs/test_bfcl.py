"""BFCL v4 adapter: loading every supported category, and the multi-turn env on BFCL's own classes.

The fidelity tests run BFCL's reference executor (`multi_turn_utils.execute_multi_turn_func_call`) and
its state checker next to ours. Both modules import cleanly without SDKs. Tests use them only as
oracles; `envs` never imports them.
"""

import dataclasses
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

import envs
from envs import bfcl, bfcl_memory
from envs.bfcl_multi_turn import parse_call
from envs.schema import tool_name
from envs.types import Task, ToolCall, ToolResult

ROOT = Path(__file__).resolve().parents[2]
# format_sensitivity re-asks tasks of the AST categories in BFCL's prompt variants: tests/envs/test_bfcl_formats.py.
# One row of BFCL data per task (format_sensitivity re-asks other categories' tasks; memory: test_bfcl_memory.py).
ROW_CATEGORIES = [c for c in bfcl.BFCL_CATEGORIES if c != "format_sensitivity" and c not in bfcl_memory.MEMORY_CATEGORIES]
AST_CATEGORIES = [c for c in ROW_CATEGORIES if bfcl._CATEGORY_MAP[c][1] == "ast"]
EXPECTED_CATEGORY = {
    "simple_python": "simple",
    "simple_java": "simple",
    "simple_javascript": "simple",
    "live_simple": "simple",
    "multiple": "multiple",
    "live_multiple": "multiple",
    "parallel": "parallel",
    "live_parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "live_parallel_multiple": "parallel_multiple",
    "irrelevance": "irrelevance",
    "live_irrelevance": "irrelevance",
    "multi_turn_base": "multi_turn",
    "multi_turn_miss_func": "multi_turn",
    "multi_turn_miss_param": "multi_turn",
    "multi_turn_long_context": "multi_turn",
}


def _raw(category, sub=""):
    path = bfcl.data_dir() / sub / f"BFCL_v4_{category}.json"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def multi_turn():
    return bfcl.load("multi_turn_base")


@pytest.fixture(scope="module")
def replays(multi_turn):
    return {t.id: bfcl.replay(t) for t in multi_turn}


# ---------------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", ROW_CATEGORIES)
def test_load_reads_every_row_and_round_trips(category):  # memory: tests/envs/test_bfcl_memory.py
    raw = _raw(category)
    tasks = bfcl.load(category)
    assert [t.id for t in tasks] == [r["id"] for r in raw]
    for task, row in zip(tasks, raw, strict=True):
        assert Task.from_json(task.to_json()) == task
        held_out = task.metadata.get("bfcl_held_out_tools", {})  # miss_func: those turns are filled in
        assert [q for k, q in enumerate(task.turns) if str(k) not in held_out] == \
            [q for k, q in enumerate(row["question"]) if str(k) not in held_out]
        assert task.domains == []
        assert task.metadata["source"] == "bfcl" and task.metadata["bfcl_category"] == category
        if category in EXPECTED_CATEGORY:  # live_relevance: "simple" or "multiple" by tool count
            assert task.category == EXPECTED_CATEGORY[category]
        if category in ("simple_java", "simple_javascript"):  # shown as source-text docs, checked by the real ones
            assert task.metadata["bfcl_typed_tools"] == row["function"]
            assert task.metadata["bfcl_language"] == category.removeprefix("simple_")
        elif category not in bfcl.MULTI_TURN_CATEGORIES:
            assert task.tools == row["function"]


@pytest.mark.parametrize("category", AST_CATEGORIES)
def test_ast_ground_truth_is_the_possible_answer(category):
    answers = {a["id"]: a["ground_truth"] for a in _raw(category, "possible_answer")}
    tasks = bfcl.load(category)
    assert all(t.ground_truth == [answers[t.id]] for t in tasks)
    assert all(t.metadata["bfcl_scoring"] == "ast" for t in tasks)


@pytest.mark.parametrize("category", ["simple_java", "simple_javascript"])
def test_java_and_javascript_tools_are_the_docs_bfcl_shows(category):
    """Every parameter a string of source text, its type named in the description: bfcl-eval's own preprocessing."""
    from bfcl_eval.utils import add_language_specific_hint_to_function_doc

    shown = add_language_specific_hint_to_function_doc(_raw(category))
    tasks = bfcl.load(category)
    assert [t.tools for t in tasks] == [row["function"] for row in shown]
    types = {p["type"] for t in tasks for tool in t.tools for p in tool["parameters"]["properties"].values()}
    assert types == {"string"}
    assert all("items" not in p for t in tasks for tool in t.tools for p in tool["parameters"]["properties"].values())


@pytest.mark.parametrize("category", ["irrelevance", "live_irrelevance"])
def test_irrelevance_tasks_expect_no_call(category):
    tasks = bfcl.load(category)
    assert all(t.ground_truth == [[]] and t.metadata["bfcl_scoring"] == "irrelevance" for t in tasks)


def test_relevance_tasks_are_flagged_any_call():
    tasks = bfcl.load("live_relevance")
    assert {t.metadata["bfcl_scoring"] for t in tasks} == {"relevance"}
    for t in tasks:
        assert t.category == ("simple" if len(t.tools) == 1 else "multiple")
    assert {t.category for t in tasks} == {"simple", "multiple"}  # the data has both shapes


def test_limit_keeps_the_first_rows():
    assert [t.id for t in bfcl.load("simple_python", limit=3)] == [f"simple_python_{i}" for i in range(3)]
    assert len(bfcl.load("multi_turn_base", limit=2)) == 2


def test_unknown_category_lists_the_supported_ones():
    with pytest.raises(ValueError, match="unknown BFCL category 'simple_rust'") as e:
        bfcl.load("simple_rust")
    assert "multi_turn_base" in str(e.value) and "live_relevance" in str(e.value)


def test_missing_bfcl_eval_says_run_make_setup(monkeypatch):
    monkeypatch.setattr(bfcl.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="make setup"):
        bfcl.load("simple_python")


def test_multi_turn_task_fields(multi_turn):
    raw = {r["id"]: r for r in _raw("multi_turn_base")}
    answers = {a["id"]: a["ground_truth"] for a in _raw("multi_turn_base", "possible_answer")}
    docs = bfcl.data_dir() / "multi_turn_func_doc"
    for task in multi_turn:
        row = raw[task.id]
        assert task.initial_state == row["initial_config"]
        assert task.metadata["bfcl_involved_classes"] == row["involved_classes"]
        assert task.metadata["bfcl_ground_truth_calls"] == answers[task.id]
        assert [len(g) for g in task.ground_truth] == [len(g) for g in answers[task.id]]
        expected_tools = [
            json.loads(line)
            for cls in row["involved_classes"]
            for line in (docs / bfcl.FUNC_DOC_FILES[cls]).read_text().splitlines()
            if line.strip()
        ]
        assert task.tools == expected_tools
    first = multi_turn[0]
    assert first.ground_truth[0] == [
        {"cd": {"folder": ["document"]}},
        {"mkdir": {"dir_name": ["temp"]}},
        {"mv": {"source": ["final_report.pdf"], "destination": ["temp"]}},
    ]
    # `sort('final_report.pdf')` is positional in BFCL; it is named from the method's signature.
    assert first.ground_truth[2] == [{"sort": {"file_name": ["final_report.pdf"]}}]


def test_miss_func_holds_its_functions_back_until_their_turn_and_long_context_loads_long_scenarios():
    from bfcl_eval.constants.default_prompts import DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC

    assert bfcl.ADDITIONAL_FUNCTION_PROMPT == DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC
    rows = {r["id"]: r for r in _raw("multi_turn_miss_func")}
    tasks = bfcl.load("multi_turn_miss_func")
    for task in tasks:
        row = rows[task.id]
        held = task.metadata["bfcl_held_out_tools"]
        assert {k: [d["name"] for d in docs] for k, docs in held.items()} == row["missed_function"]
        names = {tool_name(t) for t in task.tools}
        for k, docs in held.items():
            assert row["question"][int(k)] == []  # the data's turn is empty; the harness speaks it
            (message,) = task.turns[int(k)]
            assert message["role"] == "user" and message["content"].endswith(bfcl.ADDITIONAL_FUNCTION_PROMPT)
            assert json.loads(message["content"].split("\n")[0]) == docs
            assert not names & {d["name"] for d in docs}  # not offered before their turn
    # A held-out function is callable before it is offered, as in BFCL (which executes any method).
    task = tasks[0]
    name = task.metadata["bfcl_held_out_tools"]["3"][0]["name"]
    env = bfcl.make_bfcl_env(task)
    assert name not in {t["function"]["name"] for t in env.tools}
    (result,) = env.step([ToolCall(name, {"file_name": "nothing.txt"})])
    assert "unknown" not in str(result.error or "").lower()

    base, long = bfcl.load("multi_turn_base", limit=1)[0], bfcl.load("multi_turn_long_context", limit=1)[0]
    assert long.metadata["bfcl_long_context"] and "bfcl_long_context" not in base.metadata
    short_env = bfcl.make_bfcl_env(dataclasses.replace(long, metadata={**long.metadata, "bfcl_long_context": False}))
    assert len(json.dumps(bfcl.make_bfcl_env(long).state())) > 2 * len(json.dumps(short_env.state()))


def test_class_mappings_match_bfcl_constants():
    from bfcl_eval.constants import executable_backend_config as cfg  # imports nothing else

    from envs import bfcl_multi_turn as mt

    for cls, module in mt.CLASS_MODULES.items():
        assert cfg.CLASS_FILE_PATH_MAPPING[cls] == module
        assert cfg.MULTI_TURN_FUNC_DOC_FILE_MAPPING[cls] == mt.FUNC_DOC_FILES[cls]
    assert set(mt.STATELESS_CLASSES) == set(cfg.STATELESS_CLASSES)


def test_parse_call_is_ast_only():
    assert parse_call("mean([1, 2.5])", lambda fn: ["numbers"]) == ToolCall("mean", {"numbers": [1, 2.5]})
    assert parse_call("f(a=(1, 2), b={'k': None})") == ToolCall("f", {"a": [1, 2], "b": {"k": None}})
    for bad in ["__import__('os').system('echo hi')", "f(x=g())", "f(*a)", "f(**k)", "x + 1", "f("]:
        with pytest.raises(ValueError):
            parse_call(bad)
    with pytest.raises(ValueError, match="positional"):
        parse_call("f(1, 2)", lambda fn: ["only_one"])


def test_import_pulls_no_heavy_modules():
    code = (
        "import sys, envs.bfcl as b\n"
        "t = b.load('multi_turn_base', limit=1)[0]; b.replay(t)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'ray', 'transformers')"
        " or m.startswith(('bfcl_eval.model_handler', 'bfcl_eval.utils', 'bfcl_eval.constants.model_config'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------------
# replay and fidelity to BFCL's own executor and checker
# ---------------------------------------------------------------------------------------------------


def test_ground_truth_replays_cleanly_and_deterministically(multi_turn, replays):
    calls = [e for r in replays.values() for turn in r for e in turn["errors"]]
    assert len(calls) == sum(len(s) for t in multi_turn for s in t.metadata["bfcl_ground_truth_calls"])
    # Measured on bfcl-eval 2026.3.23: none of the 1142 ground-truth calls raises.
    assert [e for e in calls if e is not None] == []
    for task in multi_turn[:50]:
        again = bfcl.replay(task)
        assert json.loads(json.dumps(again)) == again == replays[task.id]
        assert len(again) == len(task.turns)


def test_replay_matches_bfcl_reference_executor(multi_turn, replays):
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call

    from envs.bfcl_multi_turn import _jsonable

    model_name = f"toolgym_test_{uuid.uuid4().hex}"  # BFCL caches instances in globals by this name
    for task in multi_turn:
        for k, turn in enumerate(replays[task.id]):
            results, instances = execute_multi_turn_func_call(
                task.metadata["bfcl_ground_truth_calls"][k],
                task.initial_state,
                task.metadata["bfcl_involved_classes"],
                model_name,
                task.id,
            )
            assert turn["results"] == results, (task.id, k)
            assert turn["state"] == {cls: _jsonable(i) for cls, i in sorted(instances.items())}, (task.id, k)


def test_compare_state_agrees_with_bfcl_state_checker(multi_turn):
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import state_checker

    checked = 0
    for task in multi_turn[:40]:
        gt_env = bfcl.make_bfcl_env(task)
        gt_calls = bfcl.ground_truth_calls(task)
        gt_env.step(gt_calls[0])
        # A "model" that skips the last call of the first turn.
        model_env = bfcl.make_bfcl_env(task)
        model_env.step(gt_calls[0][:-1])
        ours = bfcl.compare_state(model_env.state(), gt_env.state())
        theirs = state_checker(model_env._instances, gt_env._instances)
        assert (ours == {}) == theirs["valid"], task.id
        assert bfcl.compare_state(gt_env.state(), gt_env.state()) == {}
        checked += not theirs["valid"]
    assert checked > 10  # the perturbation really changes state in many tasks


def _play(task, turns_of_calls, max_output_chars=1000):
    """Runs calls turn by turn on our env; returns per-turn result strings and states."""
    env = bfcl.make_bfcl_env(task, max_output_chars=max_output_chars)
    results, states = [], []
    try:
        for calls in turns_of_calls:
            results.append([bfcl.result_text(r) for r in env.step(calls)])
            states.append(env.state())
    finally:
        env.close()
    return results, states


# BFCL's response check compares whole result strings; the env's `max_output_chars` only shortens what the
# policy is shown. The differential test runs without truncation.
NO_TRUNCATION = 10**9


@pytest.mark.parametrize("category", bfcl.MULTI_TURN_CATEGORIES)
def test_check_multi_turn_agrees_with_the_official_checker_on_perturbed_executions(category):
    """Every task of the category, as its ground truth and as each perturbation of tests/oracles/bfcl_multi_turn.py,
    played on our env and scored by both checkers: the same verdict, and the same error type on every failure."""
    from tests.oracles.bfcl_multi_turn import PERTURBATIONS, official_verdict, perturbations

    rng = random.Random(category)
    kinds, verdicts, disagreements = Counter(), Counter(), []
    for task in bfcl.load(category):
        gt = bfcl.replay(task, max_output_chars=NO_TRUNCATION)

        def keeps_state(turns, k, task=task, gt=gt):
            return _play(task, turns[: k + 1], NO_TRUNCATION)[1][k] == gt[k]["state"]

        for kind, turns in perturbations(task, bfcl.ground_truth_calls(task), rng, keeps_state).items():
            ours = bfcl.check_multi_turn(task, *_play(task, turns, NO_TRUNCATION), gt)
            theirs = official_verdict(task, turns)
            if ours["valid"] != theirs["valid"] or (not ours["valid"] and ours["error_type"] != theirs["error_type"]):
                disagreements.append((task.id, kind, ours, str(theirs)[:500]))
            kinds[kind] += 1
            verdicts[(kind, theirs.get("error_type"))] += 1
    assert disagreements == []
    assert kinds["ground_truth"] == 200 and verdicts[("ground_truth", None)] == 200  # the ground truth passes
    assert sum(kinds.values()) - kinds["ground_truth"] >= 1000  # x 4 categories: >= 4,000 perturbed executions
    assert set(kinds) == {"ground_truth", *PERTURBATIONS}
    # Each failure BFCL reports on a wrong execution is exercised, each by the perturbation meant for it.
    assert verdicts[("empty_turn", "multi_turn:empty_turn_model_response")] == kinds["empty_turn"]
    assert verdicts[("missing_response", "multi_turn:execution_response_mismatch")] > 50
    assert verdicts[("wrong_argument", "multi_turn:instance_state_mismatch")] > 50
    assert verdicts[("reordered_calls", "multi_turn:instance_state_mismatch")] > 0


def test_check_multi_turn_skips_empty_ground_truth_turns(multi_turn, replays):
    task = next(t for t in multi_turn if t.id == "multi_turn_base_180")  # turns 3 and 4 have no ground truth
    calls = bfcl.ground_truth_calls(task)
    assert calls[3] == [] and calls[4] == []
    results, states = _play(task, calls)
    assert bfcl.check_multi_turn(task, results, states, replays[task.id])["valid"]
    short = bfcl.check_multi_turn(task, results[:-1], states[:-1], replays[task.id])
    assert short["error_type"] == "multi_turn:force_terminated"


def test_check_multi_turn_counts_results_of_earlier_turns(multi_turn):
    # BFCL accepts a result the model produced in an earlier turn (it "already did it").
    task = multi_turn[0]
    gt = [{"calls": [{"name": "f"}], "results": ["A"], "state": {}} for _ in task.turns]
    early = [["A"]] + [["B"]] * (len(task.turns) - 1)
    assert bfcl.check_multi_turn(task, early, [{}] * len(task.turns), gt)["valid"]
    late = [["B"]] * len(task.turns)
    verdict = bfcl.check_multi_turn(task, late, [{}] * len(task.turns), gt)
    assert verdict["error_type"] == "multi_turn:execution_response_mismatch" and verdict["turn"] == 0


def test_missing_responses_is_unordered_multiset_containment():
    assert bfcl.missing_responses(["b", "a", "x"], ["a", "b"]) == []
    assert bfcl.missing_responses(["a"], ["a", "a"]) == ["a"]
    assert bfcl.missing_responses([], ["r"]) == ["r"]


# ---------------------------------------------------------------------------------------------------
# the env protocol
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def env(multi_turn):
    e = bfcl.make_bfcl_env(multi_turn[0], max_output_chars=1000, call_timeout_s=1.0)
    yield e
    e.close()


def test_env_tools_and_reset(env, multi_turn):
    task = multi_turn[0]
    assert [t["function"]["name"] for t in env.tools] == [tool_name(t) for t in task.tools]
    assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object" for t in env.tools)
    start = env.state()
    assert env.reset(seed=1) == task.turns[0]
    env.step([ToolCall("cd", {"folder": "document"}), ToolCall("mkdir", {"dir_name": "new"})])
    assert env.state() != start
    env.reset(seed=2)
    assert env.state() == start


def test_unknown_function_is_an_error_listing_tools(env):
    (r,) = env.step([ToolCall("rm_rf", {})])
    assert not r.ok and "unknown tool 'rm_rf'" in r.error
    assert "cd" in r.error and "post_tweet" in r.error
    (r,) = env.step([ToolCall("_load_scenario", {"scenario": {}})])  # private methods are not tools
    assert not r.ok and "unknown tool" in r.error


def test_bad_arguments_are_errors_and_leave_state_unchanged(env):
    before = env.state()
    results = env.step(
        [
            ToolCall("cd", {}),
            ToolCall("cd", {"folder": "document", "force": True}),
            ToolCall("mkdir", {"dir_name": ["not", "a", "string"]}),
            ToolCall("cd", "document"),
        ]
    )
    assert [r.ok for r in results] == [False] * 4
    assert "missing a required argument: 'folder'" in results[0].error
    assert "unexpected keyword argument 'force'" in results[1].error
    assert env.state() == before


def test_step_never_raises_on_garbage(env):
    results = env.step([None, 5, {"name": "ls", "arguments": {}}, {"no_name": 1}])
    assert [r.ok for r in results] == [False, False, True, False]
    assert all(isinstance(r, ToolResult) for r in results)
    assert env.step([]) == []


def test_outputs_are_bfcl_strings_and_truncated(multi_turn):
    env = bfcl.make_bfcl_env(multi_turn[0], max_output_chars=20)
    (r,) = env.step([ToolCall("ls", {})])
    assert r.ok and r.output.startswith('{"current_directory_') and "[truncated" in r.output
    assert len(r.output) < 60
    (r,) = env.step([ToolCall("pwd", {})])
    assert bfcl.result_text(r) == r.output
    assert bfcl.result_text(ToolResult(ToolCall("f"), error="boom")) == "Error during execution: boom"


def _hang():
    while True:
        pass


def test_calls_are_time_limited(multi_turn):
    env = bfcl.make_bfcl_env(multi_turn[0], call_timeout_s=0.2)
    env._methods["hang"] = _hang  # stands in for a slow API method
    start = time.monotonic()
    (r,) = env.step([ToolCall("hang", {})])
    assert not r.ok and "timed out" in r.error
    assert time.monotonic() - start < 2
    assert env.step([ToolCall("pwd", {})])[0].ok  # the main-thread path leaves the env usable


def test_time_limit_off_the_main_thread(multi_turn):
    # Rollout workers call env.step from a Ray actor's thread: the watchdog of envs/timeout.py interrupts the
    # call there too, in the calling thread, so no stray call is left running and the env stays usable.
    env = bfcl.make_bfcl_env(multi_turn[0], call_timeout_s=0.2)
    env._methods["hang"] = _hang
    out = []
    worker = threading.Thread(target=lambda: out.extend(env.step([ToolCall("hang", {}), ToolCall("pwd", {})])))
    start = time.monotonic()
    worker.start()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - start < 2
    assert not out[0].ok and "timed out" in out[0].error
    assert out[1].ok


def test_check_env_passes_on_every_multi_turn_task_env(multi_turn):
    for task in multi_turn[:5]:
        envs.check_env(task)


def test_check_env_passes_on_the_schema_only_env_of_an_ast_task():
    for category in ("simple_python", "parallel_multiple", "live_multiple"):
        task = bfcl.load(category, limit=1)[0]
        assert isinstance(envs.env_for_task(task), envs.SchemaOnlyEnv)
        envs.check_env(task)


def test_close_is_idempotent(env):
    env.close()
    env.close()
    (r,) = env.step([ToolCall("pwd", {})])
    assert not r.ok and "closed" in r.error
    env.reset()
    assert env.step([ToolCall("pwd", {})])[0].ok


def test_reset_rejects_non_bfcl_tasks(env):
    plain = Task(
        id="x", category="simple", turns=[[{"role": "user", "content": "hi"}]], tools=[], ground_truth=[[]]
    )
    with pytest.raises(ValueError, match="bfcl_involved_classes"):
        env.reset(plain)
