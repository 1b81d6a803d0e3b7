"""BFCL's agentic answer check and memory harness, as test oracles for rewards/agentic.py and envs/bfcl_memory.py
(never run time).

`agentic_checker` imports cleanly, the functions around it do not: `_evaluate_single_agentic_entry` (BFCL's verdict
on a whole entry) is in eval_checker/eval_runner.py, which imports every model SDK, and `convert_to_function_call`
(an FC handler's `decode_execute`) and `add_memory_instruction_system_prompt` are in model_handler/utils.py, which
imports tree_sitter. `bfcl_function` compiles such a function from BFCL's own source file, with what it uses.

- `official_verdict(episode, answers)` runs BFCL's entry verdict on an episode, written as BFCL's FC handlers record
  it (`bfcl_result`): per turn, per step, a call step as `[{name: json arguments}]`, a text step as its text.
- `perturbations(...)` derives episodes from a question's answer: right, wrong, embedded, case and punctuation
  changes, empty, a call after the answer, no step at all, ...; and a few with accepted answers of their own (an
  apostrophe, regex characters, only punctuation), which the data's answers do not have.
- `bfcl_memory_prompt(...)` is BFCL's system prompt for a memory entry, from its own function.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Callable
from functools import cache
from typing import Any

from envs.bfcl import data_dir
from envs.types import Episode, Step, ToolCall, ToolResult

PERTURBATIONS = (
    "exact", "bfcl_format", "embedded", "upper", "lower", "swapcase", "removable_punctuation", "quote_swap",
    "inner_space", "glued_suffix", "glued_prefix", "truncated", "wrong_answer", "empty_reply", "blank_reply",
    "only_calls", "calls_then_answer", "answer_then_call", "right_then_wrong", "wrong_then_right",
    "right_then_empty", "no_steps", "two_turns", "apostrophe_answer", "regex_characters", "punctuation_only_answer",
)


def bfcl_function(relpath: str, name: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    """The function `name` of bfcl_eval's source file `relpath`, compiled alone with `namespace` as its globals."""
    path = data_dir().parent / relpath
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec")
    scope = dict(namespace)
    exec(code, scope)  # noqa: S102 - BFCL's own source, the oracle under test
    return scope[name]


@cache
def _entry_checker() -> tuple[Callable[..., dict], Callable[..., list[str]]]:
    from bfcl_eval.eval_checker.agentic_eval.agentic_checker import agentic_checker
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import is_empty_execute_response

    decode = bfcl_function("model_handler/utils.py", "convert_to_function_call", {"json": json})
    entry = bfcl_function("eval_checker/eval_runner.py", "_evaluate_single_agentic_entry",
                          {"agentic_checker": agentic_checker, "is_empty_execute_response": is_empty_execute_response})
    return entry, decode


class _FCHandler:
    """What `_evaluate_single_agentic_entry` asks of a handler: an FC model's `decode_execute`."""

    def __init__(self, decode: Callable[..., list[str]]) -> None:
        self.decode = decode

    def decode_execute(self, result: Any, has_tool_call_tag: bool) -> list[str]:
        return self.decode(result)


def bfcl_result(episode: Episode) -> Any:
    """The episode as BFCL records a model's result: per turn, per step, `[{name: json args}]` or the text. An
    episode without a step is an inference that failed: BFCL records the error text instead of a list."""
    if not episode.steps:
        return "Error during inference: no assistant message"
    turns: list[list[Any]] = [[] for _ in range(max(s.turn for s in episode.steps) + 1)]
    for s in episode.steps:
        turns[s.turn].append([{c.name: json.dumps(c.arguments)} for c in s.calls] if s.calls else s.text)
    return turns


def official_verdict(episode: Episode, answers: list[str]) -> dict[str, Any]:
    """BFCL's verdict on the episode: `{"valid": bool, "error_type": str | None}`."""
    entry, decode = _entry_checker()
    out = entry(_FCHandler(decode), episode.task_id, bfcl_result(episode), answers, {"question": []}, "oracle",
                "memory_kv")
    return {"valid": out["valid"], "error_type": None if out["valid"] else out["error"]["error_type"]}


def bfcl_memory_prompt(question: list[list[dict]], category: str, scenario: str, backend: Any,
                       agentic: bool) -> list[list[dict]]:
    """BFCL's prompt of a memory entry: for a question (`agentic`), its answer-format system message first
    (`process_agentic_test_case`), then `add_memory_instruction_system_prompt` with the backend's memory."""
    from bfcl_eval.constants import default_prompts

    add = _memory_prompt_function()
    prompts = json.loads(json.dumps(question))
    if agentic:
        prompts[0].insert(0, {"role": "system", "content": default_prompts.ADDITIONAL_SYSTEM_PROMPT_FOR_AGENTIC_RESPONSE_FORMAT})
    return add(prompts, category, scenario, backend)


@cache
def _memory_prompt_function() -> Callable[..., list[list[dict]]]:
    from bfcl_eval.constants import default_prompts

    return bfcl_function("model_handler/utils.py", "add_memory_instruction_system_prompt", vars(default_prompts))


def _text(reply: str) -> Step:
    return Step(turn=0, text=reply)


def _call() -> Step:
    call = ToolCall("core_memory_list_keys", {})
    return Step(turn=0, text="[core_memory_list_keys()]", calls=[call], results=[ToolResult(call, '{"keys": []}')])


def _insert(text: str, rng: random.Random, piece: str) -> str:
    k = rng.randrange(1, len(text)) if len(text) > 1 else len(text)
    return text[:k] + piece + text[k:]


def perturbations(task_id: str, answers: list[str], wrong: str,
                  rng: random.Random) -> dict[str, tuple[Episode, list[str]]]:
    """`(episode, accepted answers)` of every kind in `PERTURBATIONS`, made from the question's accepted `answers`
    and another question's `wrong` answer. Each verdict is left to the oracle: a glued answer may still match."""
    answer = rng.choice(answers)
    replies = {
        "exact": answer,
        "bfcl_format": f"{{'answer': '{answer}', 'context': 'You told me so in an earlier session.'}}",
        "embedded": f"Sure! From what you shared before, it is {answer}, if I remember it right.",
        "upper": answer.upper(),
        "lower": answer.lower(),
        "swapcase": f"It is {answer.swapcase()}.",
        "removable_punctuation": _insert(answer, rng, rng.choice(",./-_*^()")),
        "quote_swap": f"{{\"answer\": \"{answer}\"}}".replace('"', "'"),
        "inner_space": _insert(answer, rng, " "),
        "glued_suffix": f"{answer}{rng.choice(['s', 'x', '0', 'ing'])}",
        "glued_prefix": f"{rng.choice(['re', 'x', '1'])}{answer}",
        "truncated": answer[:-1],
        "wrong_answer": f"{{'answer': '{wrong}', 'context': 'From memory.'}}",
        "empty_reply": "",
        "blank_reply": "   ",
    }
    out = {kind: Episode(task_id, steps=[_text(reply)]) for kind, reply in replies.items()}
    out["only_calls"] = Episode(task_id, steps=[_call(), _call()])
    out["calls_then_answer"] = Episode(task_id, steps=[_call(), _text(replies["bfcl_format"])])
    out["answer_then_call"] = Episode(task_id, steps=[_text(replies["embedded"]), _call()])
    out["right_then_wrong"] = Episode(task_id, steps=[_text(answer), _call(), _text(replies["wrong_answer"])])
    out["wrong_then_right"] = Episode(task_id, steps=[_text(replies["wrong_answer"]), _text(answer)])
    out["right_then_empty"] = Episode(task_id, steps=[_text(answer), _text("")])
    out["no_steps"] = Episode(task_id, steps=[])
    out["two_turns"] = Episode(task_id, steps=[_text(answer), Step(turn=1, text=answer)])
    pairs = {kind: (episode, answers) for kind, episode in out.items()}
    # ' and " compare equal; regex characters are literal; an answer of removable characters only is empty.
    pairs["apostrophe_answer"] = (Episode(task_id, steps=[_text(f'It is {answer}"s.')]), [f"{answer}'s"])
    pairs["regex_characters"] = (Episode(task_id, steps=[_text(f"{answer} +1 [$] ok")]), [f"{answer} (+1) [$] ok"])
    pairs["punctuation_only_answer"] = (Episode(task_id, steps=[_text(wrong)]), ["(...)"])
    assert set(pairs) == set(PERTURBATIONS)
    return pairs
