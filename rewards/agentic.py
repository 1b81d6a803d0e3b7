"""BFCL's agentic answer check (the memory categories): an accepted answer must appear in the final text reply.

BFCL's rules (eval_checker/eval_runner.py `_evaluate_single_agentic_entry`, eval_checker/agentic_eval), rebuilt:

- The question is one user turn; the model may call tools for several steps. Its reply is its last step that is
  not a call (prose, or text that does not parse as calls); steps after it that call tools do not change that.
- Both the reply and each accepted answer are normalised: the characters , . / - _ * ^ ( ) are removed, letters
  lowercased, and ' becomes ". Whitespace stays.
- The reply passes when a normalised answer occurs in it with a word boundary (regex `\\b`) on both sides: "35"
  passes in "I am 35.", not in "1350"; "Michael" not in "Michaelson".

Error types (BFCL's names):
    agentic:inference_error   the episode is not one user turn of steps (no step at all, or steps in other turns)
    agentic:no_last_message   no step without a call, or the last one is empty
    agentic:answer_not_found  no accepted answer in the reply
"""

from __future__ import annotations

import re

from envs.types import Episode, Task
from rewards.types import RewardResult

ERROR_TYPES = {
    "agentic:inference_error": "the episode is not exactly one user turn of assistant steps",
    "agentic:no_last_message": "no assistant step without a call, or the last such step is empty",
    "agentic:answer_not_found": "none of the accepted answers appears in the final reply",
}

# Removed before comparing, so that "April 1, 2024" matches "April 1 2024" and "e-mail" matches "email".
_IGNORED = str.maketrans("", "", ",./-_*^()")


def normalize(text: str) -> str:
    """`text` as BFCL compares it: without , . / - _ * ^ ( ), lowercased, ' turned into "."""
    return text.translate(_IGNORED).lower().replace("'", '"')


def check_answer(reply: str, answers: list[str]) -> RewardResult:
    """Whether any accepted answer appears, normalised and between word boundaries, in the normalised reply.

    Args:
        reply: The model's final text reply.
        answers: The accepted answers (BFCL's possible answer: any one of them passes).

    Returns:
        Valid with score 1.0, or invalid with "agentic:answer_not_found" and both sides, raw and normalised.
    """
    said = normalize(reply)
    wanted = [normalize(a) for a in answers]
    for answer, norm in zip(answers, wanted, strict=True):
        if re.search(rf"\b{re.escape(norm)}\b", said):
            return RewardResult(1.0, True, None, {"matched": answer})
    return RewardResult(0.0, False, "agentic:answer_not_found",
                        {"reply": reply, "answers": list(answers), "normalized_reply": said, "normalized_answers": wanted})


def check(task: Task, episode: Episode) -> RewardResult:
    """BFCL's verdict on a memory question's episode (see the module docstring).

    Args:
        task: A question from `envs.bfcl.load("memory_kv")` (its accepted answers in `metadata["bfcl_answers"]`).
        episode: The policy's episode on it.

    Raises:
        ValueError: The task has no `metadata["bfcl_answers"]`.
    """
    answers = task.metadata.get("bfcl_answers")
    if not isinstance(answers, list):
        raise ValueError(f"task {task.id!r} has no metadata['bfcl_answers']; not a BFCL agentic question")
    turns = sorted({s.turn for s in episode.steps})
    if turns != [0]:
        return RewardResult(0.0, False, "agentic:inference_error", {"turns": turns})
    reply = episode.final_answer(0)
    if not reply:
        return RewardResult(0.0, False, "agentic:no_last_message", {"steps": len(episode.steps)})
    return check_answer(reply, answers)

