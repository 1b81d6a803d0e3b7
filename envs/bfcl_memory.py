"""BFCL v4's memory categories (memory_kv, memory_rec_sum): prerequisite conversations, then one question each.

How BFCL runs them (bfcl_eval/utils.py `process_memory_test_case`, model_handler/base_handler.py, the backends in
eval_checker/multi_turn_eval/func_source_code/memory_*.py):

- Each question belongs to a scenario (customer, finance, healthcare, notetaker, student). Before any question, the
  model plays the scenario's prerequisite conversations (data/memory_prereq_conversation/memory_<scenario>.json) in
  order: multi-turn chats in which the user tells it facts, with the memory backend's tools to store them.
- The backend's memory (kv: `core_memory` and `archival_memory`; rec_sum: `memory`) is flushed to a snapshot at the
  end of each conversation, and the next conversation starts from that snapshot; the first starts empty.
- Every question starts from the scenario's final snapshot. It is one user turn, in which the model may call the
  memory tools for several steps before it answers in text.
- Each conversation opens with a system prompt: the scenario's role, how the memory works, and the memory's content
  as the backend dumps it (`_dump_core_memory_to_context`). A question's also asks for BFCL's answer format.
- The question is scored on the model's final text reply (rewards/agentic.py). Prerequisite conversations are not
  scored.

Here a snapshot is the backend's `envs.bfcl_multi_turn.memory_snapshot`, the env's `state()` of that class: a
conversation's episode ends with it in `Episode.final_state`, and the next task takes it as `initial_state`. The
vector backend does not run here: its module loads a sentence-embedding model from the Hugging Face hub at import.

    questions = envs.bfcl.load("memory_kv", limit=3)
    ready = play_prerequisites(questions, play)     # play(tasks) -> their episodes, in order
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envs.bfcl_multi_turn import FUNC_DOC_FILES, _api_class, read_jsonl, restore_memory
from envs.open_world import is_open, open_task
from envs.types import Episode, Task

# BFCL category -> its backend class (bfcl_eval/utils.py: "MemoryAPI_" + the category's suffix).
MEMORY_BACKENDS: dict[str, str] = {"memory_kv": "MemoryAPI_kv", "memory_rec_sum": "MemoryAPI_rec_sum"}
MEMORY_CATEGORIES: tuple[str, ...] = tuple(MEMORY_BACKENDS)

Play = Callable[[list[Task]], list[Episode]]


def load(root: Path, category: str, limit: int | None = None) -> list[Task]:
    """Reads one memory category's questions as Tasks, in the file's order, each with an empty memory.

    Args:
        root: The bfcl-eval wheel's `data/` folder.
        category: "memory_kv" or "memory_rec_sum".
        limit: Keep the first `limit` questions. It also bounds the prerequisite conversations that
            `play_prerequisites` plays: the first `limit` user turns of each scenario's, in order. A run with a
            limit is a smoke run; its questions may ask about facts that were never told.

    Returns:
        Tasks with `id` = BFCL's (e.g. "memory_kv_0-customer-0"), one turn (BFCL's system prompt, then the
        question), `tools` = the backend's function docs, `ground_truth` `[[]]` (no call is required) and
        `metadata` `{"bfcl_scoring": "agentic", "bfcl_answers": [accepted answers], "bfcl_memory_scenario",
        "bfcl_memory_prereq_limit", "bfcl_involved_classes": [backend], ...}`.

    Raises:
        ValueError: Unknown category, or a question without a possible answer.
    """
    if category not in MEMORY_BACKENDS:
        raise ValueError(f"unknown BFCL memory category {category!r}; runnable here: {', '.join(MEMORY_CATEGORIES)}")
    rows = read_jsonl(root / "BFCL_v4_memory.json", limit)
    answers = {a["id"]: a["ground_truth"] for a in read_jsonl(root / "possible_answer" / "BFCL_v4_memory.json")}
    tools = read_jsonl(root / "multi_turn_func_doc" / FUNC_DOC_FILES[MEMORY_BACKENDS[category]])
    tasks = []
    for row in rows:
        if row["id"] not in answers:
            raise ValueError(f"BFCL_v4_memory.json: no possible answer for {row['id']!r}")
        metadata = {
            "source": "bfcl",
            "bfcl_category": category,
            "bfcl_scoring": "agentic",
            "bfcl_involved_classes": [MEMORY_BACKENDS[category]],
            "bfcl_answers": list(answers[row["id"]]),
            "bfcl_memory_scenario": row["scenario"],
            "bfcl_memory_prereq_limit": limit,
        }
        task = Task(id=row["id"].replace("memory", category, 1), category="multi_step", turns=row["question"],
                    tools=json.loads(json.dumps(tools)), ground_truth=[[]], metadata=metadata)
        tasks.append(with_memory(task, {}))
    return tasks


def prerequisite_tasks(root: Path, category: str, scenario: str, limit: int | None = None) -> list[Task]:
    """A scenario's prerequisite conversations as Tasks, in the order BFCL plays them, each with an empty memory.

    Args:
        root: The bfcl-eval wheel's `data/` folder.
        category: "memory_kv" or "memory_rec_sum".
        scenario: "customer", "finance", ...
        limit: Keep the first `limit` user turns of the conversations, in order: the conversations after them are
            dropped, and the last one kept may be cut short.

    Returns:
        Tasks with `id` = BFCL's (e.g. "memory_kv_prereq_0-customer-0"), one ground-truth entry `[]` per turn (they
        are not scored) and `metadata["bfcl_scoring"] == "memory_prereq"`.
    """
    path = root / "memory_prereq_conversation" / f"memory_{scenario}.json"
    if not path.is_file():
        raise ValueError(f"no prerequisite conversations for memory scenario {scenario!r} ({path} is missing)")
    tools = read_jsonl(root / "multi_turn_func_doc" / FUNC_DOC_FILES[MEMORY_BACKENDS[category]])
    tasks = []
    left = limit
    for row in read_jsonl(path):
        if left is not None and left <= 0:
            break
        turns = row["question"][:left]
        left = None if left is None else left - len(turns)
        metadata = {
            "source": "bfcl",
            "bfcl_category": category,
            "bfcl_scoring": "memory_prereq",
            "bfcl_involved_classes": [MEMORY_BACKENDS[category]],
            "bfcl_memory_scenario": scenario,
            "bfcl_memory_topic": row.get("topic", ""),
        }
        task = Task(id=row["id"].replace("memory", category, 1), category="multi_turn", turns=turns,
                    tools=json.loads(json.dumps(tools)), ground_truth=[[] for _ in turns], metadata=metadata)
        tasks.append(with_memory(task, {}))
    return tasks


def with_memory(task: Task, snapshot: dict[str, Any]) -> Task:
    """The task starting from `snapshot` (`{}`: empty memory), its system prompt showing that memory.

    The system prompt is BFCL's (`add_memory_instruction_system_prompt`): the scenario's role and the backend's
    instructions with the memory's dump; a question's prompt goes on with BFCL's answer-format instruction.
    """
    from bfcl_eval.constants import default_prompts as prompts  # plain strings; the module imports nothing

    cls = task.metadata["bfcl_involved_classes"][0]
    backend = _api_class(cls)()
    restore_memory(cls, backend, snapshot)
    template = (prompts.MEMORY_BACKEND_INSTRUCTION_UNIFIED if cls == "MemoryAPI_rec_sum"
                else prompts.MEMORY_BACKEND_INSTRUCTION_CORE_ARCHIVAL)
    system = template.format(scenario_setting=prompts.MEMORY_AGENT_SETTINGS[task.metadata["bfcl_memory_scenario"]],
                             memory_content=backend._dump_core_memory_to_context())
    if task.metadata["bfcl_scoring"] == "agentic":
        system += "\n\n" + prompts.ADDITIONAL_SYSTEM_PROMPT_FOR_AGENTIC_RESPONSE_FORMAT
    first = [m for m in task.turns[0] if m.get("role") != "system"]  # a prompt of an earlier snapshot is replaced
    turns = [[{"role": "system", "content": system}, *first], *task.turns[1:]]
    return dataclasses.replace(task, turns=turns, initial_state={cls: json.loads(json.dumps(snapshot))})


def prerequisite_chains(tasks: list[Task], root: Path | None = None) -> dict[tuple[str, str], list[Task]]:
    """The prerequisite conversations that the memory questions among `tasks` need: (category, scenario) -> its
    conversations in order, in the questions' tool mode (open mode: envs/open_world.py)."""
    from envs.bfcl import data_dir

    root = root or data_dir()
    chains: dict[tuple[str, str], list[Task]] = {}
    for t in tasks:
        if t.metadata.get("bfcl_scoring") == "agentic" and "bfcl_memory_scenario" in t.metadata:
            key = (t.metadata["bfcl_category"], t.metadata["bfcl_memory_scenario"])
            if key not in chains:
                chain = prerequisite_tasks(root, *key, limit=t.metadata.get("bfcl_memory_prereq_limit"))
                chains[key] = [open_task(c) for c in chain] if is_open(t) else chain
    return chains


def play_prerequisites(tasks: list[Task], play: Play, root: Path | None = None) -> list[Task]:
    """Plays the prerequisite conversations that the memory questions among `tasks` need, as BFCL does, and returns
    `tasks` with each question starting from its scenario's final memory. Other tasks come back unchanged.

    Each (category, scenario) is a chain: its k-th conversation starts from the memory its (k-1)-th left. The chains
    advance together, so `play` gets every chain's k-th conversation in one call. Conversations are played in the
    questions' tool mode (open mode: envs/open_world.py).

    Args:
        tasks: Tasks of any kind; memory questions come from `load`.
        play: Plays tasks with the policy being evaluated; returns their episodes, in the same order. Each
            episode's `final_state` holds the memory it leaves (the env's `state()`).
        root: The bfcl-eval `data/` folder (default: the installed wheel's).

    Returns:
        The tasks, in order; each memory question with `initial_state` = its chain's final snapshot, its system
        prompt showing that memory, and `metadata["bfcl_memory_prereqs"]` = the ids of the conversations played.
    """
    chains = prerequisite_chains(tasks, root)
    memory: dict[tuple[str, str], dict[str, Any]] = {key: {} for key in chains}
    for k in range(max((len(c) for c in chains.values()), default=0)):
        keys = [key for key, chain in chains.items() if k < len(chain)]
        stage = [with_memory(chains[key][k], memory[key]) for key in keys]
        episodes = play(stage)
        if len(episodes) != len(stage):
            raise ValueError(f"play returned {len(episodes)} episodes for {len(stage)} prerequisite conversations")
        for key, task, episode in zip(keys, stage, episodes, strict=True):
            cls = task.metadata["bfcl_involved_classes"][0]
            if episode.task_id != task.id or cls not in episode.final_state:
                raise ValueError(f"episode of {episode.task_id!r} has no {cls} memory for {task.id!r}")
            memory[key] = episode.final_state[cls]
    out = []
    for t in tasks:
        key = (t.metadata.get("bfcl_category"), t.metadata.get("bfcl_memory_scenario"))
        if key in chains:
            t = with_memory(t, memory[key])
            t.metadata = {**t.metadata, "bfcl_memory_prereqs": [c.id for c in chains[key]]}
        out.append(t)
    return out
