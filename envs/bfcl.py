"""BFCL v4 as toolgym Tasks: the AST categories, and the four multi-turn categories with their execution env.

The data ships inside the `bfcl-eval` wheel: `bfcl_eval/data/BFCL_v4_<category>.json` (one JSON
object per line), with the answers under `data/possible_answer/`. We read the files and never import
bfcl_eval's handlers or top-level modules, because they pull in every model SDK.

Category mapping (`Task.category`; `metadata["bfcl_scoring"]` says how BFCL scores the task):

    simple_python, live_simple                 -> simple             scoring "ast"
    simple_java, simple_javascript             -> simple             scoring "ast" (Java/JavaScript rules)
    multiple, live_multiple                    -> multiple           scoring "ast"
    parallel, live_parallel                    -> parallel           scoring "ast"
    parallel_multiple, live_parallel_multiple  -> parallel_multiple  scoring "ast"
    irrelevance, live_irrelevance              -> irrelevance        scoring "irrelevance" (no call), GT [[]]
    live_relevance                             -> simple / multiple  scoring "relevance", GT [[]]
    multi_turn_base, multi_turn_miss_func,     -> multi_turn         scoring "multi_turn" (execution)
    multi_turn_miss_param, multi_turn_long_context
    format_sensitivity                         -> the base task's    scoring "ast", in BFCL's prompt variants
                                                  (envs/bfcl_formats.py)
    memory_kv, memory_rec_sum                  -> multi_step         scoring "agentic" (the final answer), after
                                                                     prerequisite conversations (envs/bfcl_memory.py)

The multi-turn categories differ only in their data, and in two things BFCL's harness does for them:
- miss_func: the functions named in `missed_function` are left out of the tools until their turn, whose
  question is empty in the data. There BFCL's prompting handlers send the held-out docs with "I have updated
  some more functions you can choose from. What about now?", and so does the task's turn here (the docs as
  JSON, where BFCL prints the Python list). The turn before it has an empty ground truth: nothing can be done
  yet. The held-out functions stay callable throughout, as in BFCL, which executes any method of the classes.
- long_context: BFCL loads the API classes with `long_context=True` (large directories, long outputs), for
  the model and for the ground truth alike; `metadata["bfcl_long_context"]` tells the env.
miss_param needs nothing: its turn with a missing value has an empty ground truth, and the next user turn
supplies the value.

simple_java and simple_javascript: BFCL's function docs declare Java/JavaScript types ("long", "ArrayList",
"Boolean", "dict", ...), and BFCL asks every model for each argument as a string of source text: the docs it
shows declare every parameter a `string`, and say in its description which Java/JavaScript type to write
(`_source_text_docs`). `Task.tools` holds those docs, so in every toolgym format a call carries Java/JavaScript
arguments as JSON/Python strings: json `{"name": "f", "arguments": {"ids": "new long[]{1L, 2L}", "flag":
"true"}}`, pythonic `[f(ids="new long[]{1L, 2L}", flag="true")]`. A value that is not a string (`"flag": true`)
fails, as it does in BFCL (`type_error:java`). The checker reads the strings by the declared types, which the
task keeps in `metadata["bfcl_typed_tools"]` (the docs as BFCL ships them) with `metadata["bfcl_language"]`;
`rewards.ast_match.task_rules` picks them up.

live_relevance has no possible answer. BFCL counts a task as passed when the model makes at least
one call, any call. Our ground-truth form cannot say "any call", so these tasks carry `[[]]` and
`metadata["bfcl_scoring"] == "relevance"`. Scorers must read that flag: an AST match against `[[]]`
would reward the opposite behaviour. The category is "simple" (one tool offered) or "multiple", so
the policy's prompt looks like any other single-turn task.

Typical use:

    tasks = envs.bfcl.load("multi_turn_base", limit=10)
    env = envs.bfcl.make_bfcl_env(tasks[0])
    gt = envs.bfcl.replay(tasks[0])     # per turn: calls, BFCL result strings, state
    verdict = envs.bfcl.check_multi_turn(tasks[0], model_results, model_states, gt)
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from envs import bfcl_memory
from envs.bfcl_multi_turn import (
    FUNC_DOC_FILES,
    BFCLEnv,
    check_multi_turn,
    compare_state,
    ground_truth_calls,
    make_bfcl_env,
    method_params,
    missing_responses,
    parse_call,
    read_jsonl,
    replay,
    result_text,
)
from envs.types import Task

__all__ = [
    "ADDITIONAL_FUNCTION_PROMPT",
    "BFCL_CATEGORIES",
    "MULTI_TURN_CATEGORIES",
    "BFCLEnv",
    "check_multi_turn",
    "compare_state",
    "data_dir",
    "ground_truth_calls",
    "load",
    "make_bfcl_env",
    "missing_responses",
    "replay",
    "result_text",
]

# BFCL category -> (our category, scoring mode). None means "simple" or "multiple" by tool count.
_CATEGORY_MAP: dict[str, tuple[str | None, str]] = {
    "simple_python": ("simple", "ast"),
    "simple_java": ("simple", "ast"),
    "simple_javascript": ("simple", "ast"),
    "live_simple": ("simple", "ast"),
    "multiple": ("multiple", "ast"),
    "live_multiple": ("multiple", "ast"),
    "parallel": ("parallel", "ast"),
    "live_parallel": ("parallel", "ast"),
    "parallel_multiple": ("parallel_multiple", "ast"),
    "live_parallel_multiple": ("parallel_multiple", "ast"),
    "irrelevance": ("irrelevance", "irrelevance"),
    "live_irrelevance": ("irrelevance", "irrelevance"),
    "live_relevance": (None, "relevance"),
    "multi_turn_base": ("multi_turn", "multi_turn"),
    "multi_turn_miss_func": ("multi_turn", "multi_turn"),
    "multi_turn_miss_param": ("multi_turn", "multi_turn"),
    "multi_turn_long_context": ("multi_turn", "multi_turn"),
    "format_sensitivity": (None, "ast"),  # 200 AST tasks x BFCL's 26 prompt variants: envs/bfcl_formats.py
    "memory_kv": ("multi_step", "agentic"),
    "memory_rec_sum": ("multi_step", "agentic"),
}
BFCL_CATEGORIES: tuple[str, ...] = tuple(_CATEGORY_MAP)
MULTI_TURN_CATEGORIES: tuple[str, ...] = tuple(c for c, (_, scoring) in _CATEGORY_MAP.items() if scoring == "multi_turn")
# The categories whose arguments are Java / JavaScript source text (see the module docstring).
_SOURCE_LANGUAGE = {"simple_java": "java", "simple_javascript": "javascript"}
# bfcl_eval/constants/default_prompts.py, DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC (a test checks the copy).
ADDITIONAL_FUNCTION_PROMPT = "I have updated some more functions you can choose from. What about now?"


def data_dir() -> Path:
    """The `data/` folder of the installed bfcl-eval wheel.

    Raises:
        ModuleNotFoundError: bfcl-eval is not installed.
    """
    # find_spec locates the package without running any of its code.
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "BFCL data needs the bfcl-eval package, which is not installed. Run `make setup`; it installs "
            "bfcl-eval with --no-deps, because its own dependencies pin numpy and pull in many SDKs."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load(category: str, limit: int | None = None) -> list[Task]:
    """Reads one BFCL v4 category as Tasks, in the file's order.

    Args:
        category: A BFCL category name, one of `BFCL_CATEGORIES` (e.g. "simple_python", "live_multiple",
            "multi_turn_base").
        limit: Keep only the first `limit` tasks (format_sensitivity: `limit` base tasks, each in BFCL's 26
            prompt variants; see `envs.bfcl_formats.load_variants`).

    Returns:
        Tasks with `id` = BFCL id, `turns` = BFCL `question`, `tools` = BFCL function docs as-is,
        `ground_truth` in possible-answer form (one entry per turn), `domains` = [] and `metadata`
        `{"source": "bfcl", "bfcl_category", "bfcl_scoring", ...}`. Multi-turn tasks also carry
        `initial_state` = BFCL `initial_config`, and `metadata["bfcl_involved_classes"]`,
        `["bfcl_ground_truth_calls"]` (the raw call strings per turn) and `["bfcl_path"]`; miss_func tasks
        also `["bfcl_held_out_tools"]` (`{turn: [docs]}`), and long_context tasks `["bfcl_long_context"]`.
        Memory questions: see `envs.bfcl_memory.load` (`limit` there also bounds the prerequisite conversations).

    Raises:
        ValueError: Unknown category (the message lists the known ones).
        ModuleNotFoundError: bfcl-eval is not installed.
    """
    if category not in _CATEGORY_MAP:
        raise ValueError(f"unknown BFCL category {category!r}; supported: {', '.join(BFCL_CATEGORIES)}")
    if category == "format_sensitivity":
        from envs.bfcl_formats import load_variants

        return load_variants(limit)
    root = data_dir()
    if category in bfcl_memory.MEMORY_CATEGORIES:
        return bfcl_memory.load(root, category, limit)
    rows = read_jsonl(root / f"BFCL_v4_{category}.json", limit)
    answer_file = root / "possible_answer" / f"BFCL_v4_{category}.json"
    answers = (
        {a["id"]: a["ground_truth"] for a in read_jsonl(answer_file, None)} if answer_file.exists() else {}
    )
    if category in MULTI_TURN_CATEGORIES:
        docs = _FuncDocs(root / "multi_turn_func_doc")
        return [_multi_turn_task(row, answers, docs, category) for row in rows]
    return [_single_turn_task(row, answers, category) for row in rows]


def _single_turn_task(row: dict[str, Any], answers: dict[str, Any], category: str) -> Task:
    ours, scoring = _CATEGORY_MAP[category]
    if ours is None:
        ours = "simple" if len(row["function"]) == 1 else "multiple"
    if scoring == "ast":
        if row["id"] not in answers:
            raise ValueError(f"BFCL {category}: no possible answer for {row['id']!r}")
        ground_truth = [answers[row["id"]]]
    else:
        ground_truth = [[] for _ in row["question"]]  # irrelevance / relevance: see the module docstring
    metadata: dict[str, Any] = {"source": "bfcl", "bfcl_category": category, "bfcl_scoring": scoring}
    tools = row["function"]
    if category in _SOURCE_LANGUAGE:
        metadata["bfcl_language"] = _SOURCE_LANGUAGE[category]
        metadata["bfcl_typed_tools"] = tools
        tools = _source_text_docs(tools, _SOURCE_LANGUAGE[category])
    return Task(
        id=row["id"],
        category=ours,
        turns=row["question"],
        tools=tools,
        ground_truth=ground_truth,
        domains=[],
        metadata=metadata,
    )


def _source_text_docs(functions: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """The function docs as BFCL shows them for Java/JavaScript (`add_language_specific_hint_to_function_doc`).

    A note on the syntax ends each description; each parameter becomes a `string` whose description names
    its Java/JavaScript type (and, for arrays, its item type; for JavaScript objects, their schema). The
    input is not changed. A test compares the result with bfcl-eval's own preprocessing.
    """
    name = "Java" if language == "java" else "JavaScript"
    syntax = "Java 8 SDK syntax" if language == "java" else "JavaScript syntax"
    array_types = ("ArrayList", "Array") if language == "java" else ("array",)
    docs = json.loads(json.dumps(functions))
    for doc in docs:
        doc["description"] += f" Note that the provided function is in {syntax}."
        for param in doc["parameters"]["properties"].values():
            if param["type"] == "any":
                param["description"] += f" This parameter can be of any type of {name} object in string representation."
            else:
                param["description"] += f" This is {name} {param['type']} type parameter in string representation."
            if param["type"] in array_types:
                item = param.pop("items")["type"]
                param["description"] += f" The list elements are of type {item}; they are not in string representation."
            if language == "javascript" and param["type"] == "dict" and "properties" in param:
                schema = json.dumps(param.pop("properties"))
                param["description"] += (
                    f" The dictionary entries have the following schema; they are not in string representation. {schema}"
                )
            param["type"] = "string"
    return docs


def _multi_turn_task(row: dict[str, Any], answers: dict[str, Any], docs: _FuncDocs, category: str) -> Task:
    classes = list(row["involved_classes"])
    raw_gt = answers.get(row["id"])
    if raw_gt is None:
        raise ValueError(f"BFCL {category}: no ground truth for {row['id']!r}")
    # Positional ground-truth arguments (`sort('final_report.pdf')`) are named from the real method
    # signature, so we only import BFCL's API classes when a call needs it.
    ground_truth = [
        [_possible_answer(parse_call(s, lambda fn: method_params(classes, fn))) for s in turn]
        for turn in raw_gt
    ]
    metadata: dict[str, Any] = {
        "source": "bfcl",
        "bfcl_category": category,
        "bfcl_scoring": "multi_turn",
        "bfcl_involved_classes": classes,
        "bfcl_ground_truth_calls": raw_gt,
        "bfcl_path": row.get("path", []),
    }
    tools = [doc for cls in classes for doc in docs[cls]]
    turns = [list(turn) for turn in row["question"]]
    # excluded_function: BFCL's harness does not act on it either. Kept for reference.
    if "excluded_function" in row:
        metadata["bfcl_excluded_function"] = row["excluded_function"]
    if row.get("missed_function"):
        held_out: dict[str, list[dict[str, Any]]] = {}
        for turn, names in sorted(row["missed_function"].items(), key=lambda kv: int(kv[0])):
            by_name = {doc["name"]: doc for doc in tools}
            held_out[turn] = [by_name[n] for n in names if n in by_name]  # in BFCL's order: the names'
            if len(held_out[turn]) != len(names) or turns[int(turn)]:
                raise ValueError(f"BFCL {category} {row['id']!r}: turn {turn} must be empty and hold out {names}")
            turns[int(turn)] = [{"role": "user", "content": f"{json.dumps(held_out[turn])}\n{ADDITIONAL_FUNCTION_PROMPT}"}]
        shown_later = {doc["name"] for docs_ in held_out.values() for doc in docs_}
        tools = [doc for doc in tools if doc["name"] not in shown_later]
        metadata["bfcl_held_out_tools"] = held_out
    if category == "multi_turn_long_context":
        metadata["bfcl_long_context"] = True
    return Task(
        id=row["id"],
        category=_CATEGORY_MAP[category][0],
        turns=turns,
        tools=tools,
        ground_truth=ground_truth,
        domains=[],
        initial_state=row.get("initial_config", {}),
        metadata=metadata,
    )


def _possible_answer(call: Any) -> dict[str, dict[str, list[Any]]]:
    """`cd(folder='x')` -> `{"cd": {"folder": ["x"]}}`: one acceptable value per argument."""
    return {call.name: {k: [v] for k, v in call.arguments.items()}}


class _FuncDocs:
    """Per-class function docs from `data/multi_turn_func_doc/`, each file read once per `load`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def __getitem__(self, class_name: str) -> list[dict[str, Any]]:
        if class_name not in self._cache:
            if class_name not in FUNC_DOC_FILES:
                raise ValueError(f"unknown BFCL API class {class_name!r}; known: {sorted(FUNC_DOC_FILES)}")
            self._cache[class_name] = read_jsonl(self.folder / FUNC_DOC_FILES[class_name], None)
        # Fresh copies: tasks must not share mutable tool dicts.
        return json.loads(json.dumps(self._cache[class_name]))
