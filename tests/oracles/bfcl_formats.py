"""BFCL's own prompt builder, reply decoder and format-sensitivity scorer, as a test oracle for
`envs.bfcl_formats` (never run time).

- `official()` imports, from the bfcl-eval wheel: `formulate_system_prompt` and `default_decode_ast_prompting`
  (model_handler/utils.py), the format-sensitivity loader (`load_dataset_entry("format_sensitivity")`, utils.py),
  `get_all_format_sensitivity_configs`, the prompt constants, and `format_sensitivity_runner` (eval_checker/
  eval_runner.py). Those modules import packages the wheel was installed without (bfcl-eval is installed
  `--no-deps`): tree-sitter (the Java and JavaScript parsers, unused for Python), tenacity (a retry decorator),
  python-dotenv, `overrides` (the model handler base class), and the model-config module with every vendor SDK.
  Stand-ins replace those modules in `sys.modules` for the import only.
- `official_messages(entry)` is the prompt BFCL sends for one of its format-sensitivity entries;
  `official_decode(text, config)` what BFCL's prompting handlers decode from a reply;
  `official_runner_header(...)` the score header of BFCL's `format_sensitivity_runner` for a set of replies.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import sys
import types
from typing import Any

from tests.oracles.bfcl_ast import ORACLE_MODEL, load_official


@functools.cache
def official() -> types.SimpleNamespace:
    """BFCL's functions and constants named in the module doc."""
    load_official()  # the AST checker first, with bfcl_ast's model-config stand-in (it keeps that reference)
    identity = lambda *a, **k: (lambda f: f)  # noqa: E731 - tenacity's decorators, never called by the oracle
    stand_ins = {
        "bfcl_eval.model_handler.parser.java_parser": {"parse_java_function_call": None},
        "bfcl_eval.model_handler.parser.js_parser": {"parse_javascript_function_call": None},
        "bfcl_eval.model_handler.base_handler": {"BaseHandler": object},
        "bfcl_eval.constants.model_config": {
            "MODEL_CONFIG_MAPPING": {ORACLE_MODEL: types.SimpleNamespace(underscore_to_dot=False)}},
    }
    if importlib.util.find_spec("tenacity") is None:
        stand_ins["tenacity"] = dict.fromkeys(("retry", "retry_if_exception_message", "retry_if_exception_type",
                                               "wait_random_exponential"), identity)
    if importlib.util.find_spec("dotenv") is None:
        stand_ins["dotenv"] = {"load_dotenv": lambda *a, **k: None}
    saved = {name: sys.modules.get(name) for name in stand_ins}
    for name, attrs in stand_ins.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module
    try:
        from bfcl_eval import utils
        from bfcl_eval.constants import default_prompts
        from bfcl_eval.constants.enums import ReturnFormat
        from bfcl_eval.eval_checker import eval_runner
        from bfcl_eval.model_handler import utils as handler_utils
    finally:  # leave sys.modules as it was; the imported modules keep their references to the stand-ins
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return types.SimpleNamespace(
        prompts=default_prompts, utils=utils, handler_utils=handler_utils, eval_runner=eval_runner,
        ReturnFormat=ReturnFormat, configs=utils.get_all_format_sensitivity_configs(),
    )


@functools.cache
def official_entries() -> dict[str, dict[str, Any]]:
    """BFCL's 5200 format-sensitivity entries, by `(config, base id)` joined as `config:base id`."""
    entries = official().utils.load_dataset_entry("format_sensitivity")
    return {e["id"].split(":", 1)[1]: e for e in entries}


def official_ground_truth() -> dict[str, Any]:
    """BFCL's possible answers of the format-sensitivity base tasks, by base id."""
    return {e["id"]: e["ground_truth"] for e in official().utils.load_format_sensitivity_ground_truth_entry()}


def official_messages(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The first turn's messages BFCL's prompting handlers send for a format-sensitivity entry."""
    entry = copy.deepcopy(entry)
    return official().handler_utils.system_prompt_pre_processing_chat_model(entry["question"][0], entry["function"],
                                                                          entry["id"])


def official_decode(text: str, config: str) -> list[dict[str, Any]]:
    """BFCL's decoding of a reply in a variant's return format (`default_decode_ast_prompting`); raises as BFCL's
    decoder raises on what it cannot decode."""
    o = official()
    ret, tag, *_ = o.handler_utils.parse_prompt_variation_params(config)
    return o.handler_utils.default_decode_ast_prompting(text, o.ReturnFormat(ret), tag)


def official_runner_header(replies: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The score header BFCL's `format_sensitivity_runner` computes for replies `(config, base id, text)`.

    The runner writes its score file through `save_eval_results`; the oracle takes the header from that call
    instead of writing files.
    """
    o = official()
    entries, answers = official_entries(), official_ground_truth()
    model_result, prompts, possible = [], [], []
    for k, (config, base_id, text) in enumerate(replies):
        entry = entries[f"{config}:{base_id}"]
        model_result.append({"id": f"format_sensitivity_{k}:{config}:{base_id}", "result": text})
        prompts.append(entry)
        possible.append({"ground_truth": answers[base_id]})
    handler = types.SimpleNamespace(decode_ast=o.handler_utils.default_decode_ast_prompting)
    captured: dict[str, Any] = {}

    def save(result, correct_count, model_result, test_category, model_name, score_dir, extra_header_fields=None):
        captured.update(correct_count=correct_count, total_count=len(model_result), **(extra_header_fields or {}))
        return correct_count / len(model_result), len(model_result)

    runner_globals = o.eval_runner.format_sensitivity_runner.__globals__
    original = runner_globals["save_eval_results"]
    runner_globals["save_eval_results"] = save
    try:
        o.eval_runner.format_sensitivity_runner(handler, model_result, prompts, possible, ORACLE_MODEL,
                                                "format_sensitivity", None)
    finally:
        runner_globals["save_eval_results"] = original
    return captured
