"""BFCL v4 adapter: loading every supported category, and the multi-turn env on BFCL's own classes.

The fidelity tests run BFCL's reference executor (`multi_turn_utils.execute_multi_turn_func_call`) and
its state checker next to ours. Both modules import cleanly without SDKs. Tests use them only as
oracles; `envs` never imports them.
"""

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import envs
from envs import bfcl
from envs.bfcl_multi_turn import parse_call
from envs.schema import tool_name
from envs.types import Task, ToolCall, ToolResult

ROOT = Path(__file__).resolve().parents[2]
AST_CATEGORIES = [c for c in bfcl.BFCL_CATEGORIES if bfcl._CATEGORY_MAP[c][1] == "ast"]
EXPECTED_CATEGORY = {
    "simple_python": "simple",
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


@pytest.mark.parametrize("category", bfcl.BFCL_CATEGORIES)
def test_load_reads_every_row_and_round_trips(category):
    raw = _raw(category)
    tasks = bfcl.load(category)
    assert [t.id for t in tasks] == [r["id"] for r in raw]
    for task, row in zip(tasks, raw, strict=True):
        assert Task.from_json(task.to_json()) == task
        assert task.turns == row["question"]
        assert task.domains == []
        assert task.metadata["source"] == "bfcl" and task.metadata["bfcl_category"] == category
        if category in EXPECTED_CATEGORY:
            assert task.category == EXPECTED_CATEGORY[category]
        if category != "multi_turn_base":
            assert task.tools == row["function"]


@pytest.mark.parametrize("category", AST_CATEGORIES)
def test_ast_ground_truth_is_the_possible_answer(category):
    answers = {a["id"]: a["ground_truth"] for a in _raw(category, "possible_answer")}
    tasks = bfcl.load(category)
    assert all(t.ground_truth == [answers[t.id]] for t in tasks)
    assert all(t.metadata["bfcl_scoring"] == "ast" for t in tasks)


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


def _play(task, turns_of_calls):
    """Runs calls turn by turn on our env; returns per-turn result strings and states."""
    env = bfcl.make_bfcl_env(task)
    results, states = [], []
    for calls in turns_of_calls:
        results.append([bfcl.result_text(r) for r in env.step(calls)])
        states.append(env.state())
    return results, states


def _perturb(strings, calls, task_index):
    """Drops one ground-truth call, choosing the turn by task index so that every turn position is hit."""
    nonempty = [k for k, turn in enumerate(strings) if turn]
    k = nonempty[task_index % len(nonempty)]
    strings = [list(t) for t in strings]
    calls = [list(t) for t in calls]
    drop = task_index % len(strings[k])
    del strings[k][drop], calls[k][drop]
    return strings, calls


def test_check_multi_turn_agrees_with_bfcl_checker(multi_turn, replays):
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    verdicts = []
    for i, task in enumerate(multi_turn):
        gt_strings = task.metadata["bfcl_ground_truth_calls"]
        strings, calls = gt_strings, bfcl.ground_truth_calls(task)
        if i % 4:  # every fourth task plays the ground truth itself, the rest drop one call
            strings, calls = _perturb(strings, calls, i)
        ours = bfcl.check_multi_turn(task, *_play(task, calls), replays[task.id])
        row = {
            "id": task.id,
            "initial_config": task.initial_state,
            "involved_classes": task.metadata["bfcl_involved_classes"],
        }
        # BFCL's decoded model output: per turn, a list of steps, each a list of call strings.
        decoded = [[turn] if turn else [] for turn in strings]
        theirs = multi_turn_checker(
            decoded, gt_strings, row, "multi_turn_base", f"toolgym_{uuid.uuid4().hex}"
        )
        assert ours["valid"] == theirs["valid"], (task.id, ours, theirs)
        if not theirs["valid"]:
            assert ours["error_type"] == theirs["error_type"], task.id
        verdicts.append(ours["error_type"])
    # Every failure kind BFCL reports on a wrong trajectory is exercised, and the ground truth passes.
    assert set(verdicts) == {
        "multi_turn:instance_state_mismatch",
        "multi_turn:execution_response_mismatch",
        "multi_turn:empty_turn_model_response",
        None,
    }
    assert verdicts.count(None) == len(multi_turn[::4])


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
