"""SFT examples: tasks rendered into token ids with a loss mask on assistant tokens only.

We tokenise conversations ourselves, with the same `ChatRenderer` the rollouts use, instead of letting TRL
apply the chat template: SmolLM2's template has no `{% generation %}` markers (so TRL's assistant_only_loss
cannot find the assistant spans), and its prompt/completion rows would put tool results inside the
completion, where they would be trained. Here every assistant message is `encode(text) + [end-of-turn]`
with mask 1, and everything the environment or user adds is rendered by the template with mask 0: the
policy learns exactly the token stream it will generate during rollouts.

Recipes (rl.config.SFTConfig): tool placement, decision tokens (through the format), synthetic
non-function-call examples, a short rationale before calls, and blending general chat rows. Open-mode tasks
(data.tools: open) become retrieve-then-call traces: a search before each tool's first call, with the search's
real result, verified like every other target.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envs
from envs.domains import DOMAINS
from envs.formats import ANSWER, Format
from envs.open_world import SEARCH_TOOL_NAME, is_open, offered_tools
from envs.replay import tool_parameters, turn_calls
from envs.schema import normalize_tool, tool_name
from envs.tasks import non_fc_variant
from envs.types import Task, ToolCall, ToolResult
from rewards.execution import informative_leaves
from rewards.expect import missing_params
from rl.rollout.chat import ChatRenderer

NO_TOOL_REPLY = "Sorry, none of the available tools can do that."


@dataclass
class Example:
    input_ids: list[int]
    assistant_masks: list[int]
    source: str
    kind: str  # "fc" (function calling), "non_fc" (synthetic: the needed tool removed), "chat"


@dataclass
class BuildReport:
    """Counts of what was built and why anything was rejected (nothing is dropped silently)."""

    built: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    examples_of_rejects: list[str] = field(default_factory=list)

    def reject(self, source: str, reason: str) -> None:
        self.rejected[reason.split(":")[0]] += 1
        if len(self.examples_of_rejects) < 10:
            self.examples_of_rejects.append(f"{source}: {reason}")

    def summary(self) -> str:
        built = ", ".join(f"{k}={v}" for k, v in sorted(self.built.items())) or "none"
        rej = sum(self.rejected.values())
        out = f"built {sum(self.built.values())} examples ({built}); rejected {rej}"
        if rej:
            out += " (" + ", ".join(f"{k}: {v}" for k, v in self.rejected.most_common()) + ")"
        return out


class RejectedExample(ValueError):
    """A training example that fails the rule-based checks (parse, schema, execution)."""


# ---------------------------------------------------------------------------------------------------
# Task -> target dialogue (messages after the prompt)
# ---------------------------------------------------------------------------------------------------


def task_dialogue(task: Task, fmt: Format, reasoning: bool = False) -> list[dict[str, Any]]:
    """The ideal continuation of a task: assistant calls, tool results, answers, later user turns.

    Each target call is checked: it must survive the format's render -> parse round trip and execute
    without error in a fresh env (which also validates it against the schema).

    Raises:
        RejectedExample: naming the failed check.
    """
    env = envs.env_for_task(task, call_timeout_s=None)
    env.reset(task, seed=0)
    schemas = tool_parameters(task.tools)
    # Calls that need an earlier call's output go one per message, the rest together (parallel).
    sequential = task.category == "multi_step" or bool(task.metadata.get("sequential"))
    dialogue: list[dict[str, Any]] = []
    retrieved: set[str] = set()  # open mode: tools an earlier search returned
    try:
        for k, turn_gt in enumerate(task.ground_truth):
            if k > 0:
                dialogue += [dict(m) for m in task.turns[k]]
            if not turn_gt:
                if fmt.name == "decision" and task.metadata.get("synthetic") == "non_fc":
                    reply = ANSWER  # the recipe of Chen et al.: the decision token alone teaches "no call"
                else:
                    reply = fmt.render_answer(_no_call_reply(task, k))
                dialogue.append({"role": "assistant", "content": reply})
                continue
            calls = turn_calls(turn_gt, schemas, prefer_omit=True)  # shortest correct call
            asked: list[ToolResult] = []  # outputs of read-only calls: what the user asked to know
            for group in ([c] for c in calls) if sequential else [calls]:
                if is_open(task):
                    dialogue += _searches_for(group, task, env, fmt, retrieved)
                text = fmt.render_calls(group)
                if fmt.parse(text).calls != group:
                    raise RejectedExample(f"parse: target calls do not survive the {fmt.name} round trip")
                if reasoning:
                    text = _rationale(group) + "\n" + text
                step = env.step(group)
                bad = [r for r in step if not r.ok]
                if bad:
                    raise RejectedExample(f"execution: {bad[0].call.name} failed: {bad[0].error}")
                if group is calls or group[0] is calls[-1]:  # lookups that feed a later call are not the answer
                    asked += [r for r in step if _is_readonly(task, r.call.name)]
                dialogue.append({"role": "assistant", "content": text})
                dialogue += fmt.render_results(step)
            dialogue.append({"role": "assistant", "content": fmt.render_answer(_summary(asked))})
    finally:
        env.close()
    return dialogue


def _searches_for(calls: list[ToolCall], task: Task, env: Any, fmt: Format, retrieved: set[str]) -> list[dict[str, Any]]:
    """Open mode: a search before the first call of each tool, with its real result. The query is the tool's
    name in words, as a short request for it would be ("pay bill"); if the pool does not rank the tool among the
    first few for that, the query adds its description. A tool no query finds rejects the example."""
    out: list[dict[str, Any]] = []
    for name in dict.fromkeys(c.name for c in calls):
        if name in retrieved:
            continue
        words = name.replace("_", " ").replace(".", " ")
        description = next((normalize_tool(t)["function"].get("description", "") for t in task.tools
                            if tool_name(t) == name), "")
        for query, k in ((words, 3), (f"{words} {description}".strip(), 5)):
            search = ToolCall(SEARCH_TOOL_NAME, {"query": query, "k": k})
            (result,) = env.step([search])
            returned = [t["name"] for t in result.output or []]
            if name in returned:
                break
        else:
            raise RejectedExample(f"retrieval: no search for {name!r} returns it")
        text = fmt.render_calls([search])
        if fmt.parse(text).calls != [search]:
            raise RejectedExample(f"parse: the search call does not survive the {fmt.name} round trip")
        retrieved.update(returned)
        out += [{"role": "assistant", "content": text}, *fmt.render_results([result])]
    return out


def _no_call_reply(task: Task, turn: int) -> str:
    missing = missing_params(task, turn)
    if missing:
        names = " and ".join(m.rsplit(".", 1)[-1].replace("_", " ") for m in missing)
        return f"Could you tell me the {names}?"
    return NO_TOOL_REPLY


def _rationale(calls: list[ToolCall]) -> str:
    names = ", ".join(dict.fromkeys(c.name for c in calls))
    return f"I will call {names} with the values from the request."


def _summary(asked: list[ToolResult]) -> str:
    """A short final answer: "Done." after actions, or what the lookups found (their informative values)."""
    values = [v for r in asked for v in informative_leaves(r.output, r.call.arguments)[:3]]
    if not values:
        return "Done."
    text = ", ".join(str(v) for v in values[:6])
    return "Result: " + (text if len(text) <= 100 else text[:97] + "...")


def _is_readonly(task: Task, tool: str) -> bool:
    """True when the task's domains define `tool` as read-only (a lookup whose output the user wants)."""
    for d in task.domains:
        spec = DOMAINS.get(d) and DOMAINS[d].tool_specs().get(tool)
        if spec is not None:
            return spec.readonly
    return False


# ---------------------------------------------------------------------------------------------------
# Dialogue -> token ids + assistant mask
# ---------------------------------------------------------------------------------------------------


def encode_dialogue(
    renderer: ChatRenderer, prompt: list[dict[str, Any]], tools: list[dict[str, Any]], dialogue: list[dict[str, Any]]
) -> tuple[list[int], list[int]]:
    """Token ids of prompt + dialogue and the mask that is 1 exactly on assistant tokens.

    Assistant tokens are the message's own tokens plus the end-of-turn token the policy must emit.
    """
    ids = renderer.prompt_ids(prompt, tools)
    mask = [0] * len(ids)
    eot = renderer.end_of_turn_id
    eot_text = renderer.tokenizer.decode([eot])
    i = 0
    while i < len(dialogue):
        msg = dialogue[i]
        if msg["role"] != "assistant":
            raise ValueError(f"dialogue[{i}]: expected an assistant message, got {msg['role']!r}")
        a_ids = renderer.encode(msg["content"]) + [eot]
        ids += a_ids
        mask += [1] * len(a_ids)
        j = i + 1
        while j < len(dialogue) and dialogue[j]["role"] != "assistant":
            j += 1
        if j < len(dialogue):  # the environment / user speaks, then the assistant again
            assistant = renderer.assistant_message(msg["content"], renderer.fmt.parse(msg["content"]).calls)
            env_ids = renderer.continuation_ids(assistant, msg["content"] + eot_text, dialogue[i + 1 : j], tools)
            ids += env_ids
            mask += [0] * len(env_ids)
        i = j
    return ids, mask


# ---------------------------------------------------------------------------------------------------
# Whole datasets
# ---------------------------------------------------------------------------------------------------


def build_examples(
    tasks: list[Task],
    renderer: ChatRenderer,
    *,
    non_fc_ratio: float = 0.0,
    non_fc_near_miss: bool = False,
    reasoning: bool = False,
    chat_rows: list[dict[str, Any]] | None = None,
    chat_mix_ratio: float = 0.0,
    max_length: int | None = None,
    seed: int = 0,
) -> tuple[list[Example], BuildReport]:
    """Builds SFT examples from tasks (plus recipe extras), validating every target.

    Args:
        tasks: Source tasks (generated, or loaded from JSONL).
        renderer: Chat rendering for the policy's tokenizer and format.
        non_fc_ratio: Share of the final set that is synthetic "needed tool removed" examples.
        non_fc_near_miss: Where that removal leaves no tool, offer one unneeded tool of the task's domain
            (`non_fc_variant`).
        reasoning: Put a one-line rationale before each call message.
        chat_rows: General chat rows ({"messages": [...]}) to blend in.
        chat_mix_ratio: Share of the final set that is chat rows.
        max_length: Examples longer than this are rejected (reported), never silently cut.
        seed: Shuffling and sampling seed.
    """
    rng = random.Random(seed)
    report = BuildReport()
    out: list[Example] = []

    def add(task: Task, kind: str) -> None:
        try:
            dialogue = task_dialogue(task, renderer.fmt, reasoning=reasoning and kind == "fc")
            prompt = renderer.initial_messages(task)
            ids, mask = encode_dialogue(renderer, prompt, offered_tools(task), dialogue)
        except RejectedExample as e:
            report.reject(task.id, str(e))
            return
        if max_length and len(ids) > max_length:
            report.reject(task.id, f"too_long: {len(ids)} tokens > max_length {max_length}")
            return
        out.append(Example(ids, mask, task.id, kind))
        report.built[kind] += 1

    for t in tasks:
        add(t, "fc")
    n_fc = len(out)
    if non_fc_ratio > 0:
        want = round(n_fc * non_fc_ratio / (1 - non_fc_ratio))
        # Its own rng, so that turning near misses on changes which tools are offered and nothing else.
        near_miss = random.Random(seed) if non_fc_near_miss else None
        candidates = [v for v in (non_fc_variant(t, near_miss) for t in tasks) if v is not None]
        for t in rng.sample(candidates, min(want, len(candidates))):
            add(t, "non_fc")
    if chat_mix_ratio > 0 and chat_rows:
        want = round(len(out) * chat_mix_ratio / (1 - chat_mix_ratio))
        for k, row in enumerate(rng.sample(chat_rows, min(want, len(chat_rows)))):
            try:
                ex = chat_example(row, renderer, f"chat/{k}")
            except ValueError as e:
                report.reject(f"chat/{k}", f"chat_row: {e}")
                continue
            if max_length and len(ex.input_ids) > max_length:
                report.reject(ex.source, f"too_long: {len(ex.input_ids)} tokens")
                continue
            out.append(ex)
            report.built["chat"] += 1
    rng.shuffle(out)
    return out, report


def chat_example(row: dict[str, Any], renderer: ChatRenderer, source: str) -> Example:
    """A general chat row `{"messages": [...]}` (HF form): every assistant message is trained."""
    msgs = row.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise ValueError("expected a non-empty 'messages' list")
    first_assistant = next((i for i, m in enumerate(msgs) if m.get("role") == "assistant"), None)
    if first_assistant is None or first_assistant == 0:
        raise ValueError("needs a user message before the first assistant message")
    prompt, rest = msgs[:first_assistant], msgs[first_assistant:]
    ids, mask = encode_dialogue(renderer, prompt, [], _interleave(rest))
    return Example(ids, mask, source, "chat")


def _interleave(rest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # encode_dialogue wants the dialogue to start with an assistant message; rows already do.
    return [{"role": m["role"], "content": m.get("content") or ""} for m in rest]


def read_chat_rows(path: str | Path) -> list[dict[str, Any]]:
    """Reads a JSONL of chat rows; errors name the line."""
    rows = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: invalid JSON: {e.msg}") from None
            if not isinstance(row, dict) or "messages" not in row:
                raise ValueError(f"{path}:{n}: messages: missing (expected {{'messages': [...]}})")
            rows.append(row)
    return rows


def hf_rows_to_tasks(rows: list[dict[str, Any]], source: str) -> list[Task]:
    """HF `messages` + `tools` rows (assistant `tool_calls` in OpenAI form) as single-turn Tasks.

    The assistant's calls become the ground truth (each value its only acceptable value), so the same
    validation and rendering apply as for generated tasks.
    """
    tasks = []
    for n, row in enumerate(rows, 1):
        msgs = row["messages"]
        users = [m for m in msgs if m.get("role") in ("user", "system")]
        calls = [
            tc.get("function", tc)
            for m in msgs
            if m.get("role") == "assistant"
            for tc in (m.get("tool_calls") or [])
        ]
        gt = []
        for c in calls:
            args = c.get("arguments") or {}
            if isinstance(args, str):
                args = json.loads(args)
            gt.append({c["name"]: {k: [v] for k, v in args.items()}})
        tasks.append(
            Task(
                id=f"{source}:{n}",
                category="simple" if len(gt) == 1 else ("parallel" if gt else "irrelevance"),
                turns=[[u for u in users if u["role"] == "user"][:1]],
                tools=row.get("tools") or [],
                ground_truth=[gt],
                metadata={"source": source, "line": n},
            )
        )
    return tasks



def self_chat_rows(spec: str, prompts: list[str], *, max_new_tokens: int = 96, batch_size: int = 16) -> list[dict[str, Any]]:
    """Instruction-following rows made of the model's own greedy replies to `prompts`, with no tools offered.

    The offline stand-in for general instruction data (the installed packages ship none): mixed into SFT it
    pulls the model's plain-text replies toward what it already says, and adds no knowledge or behaviour
    from elsewhere, so it can only regularise.

    Returns:
        Rows `{"messages": [user, assistant]}`, one per prompt (replies cut at the end-of-turn token).
    """
    from tqdm.auto import tqdm

    from rl.checkpoint import load_policy
    from rl.rollout.chat import end_of_turn_ids
    from rl.rollout.engine import HFEngine

    model, tok = load_policy(spec)
    engine = HFEngine(model, tok.pad_token_id, [tok.eos_token_id, *end_of_turn_ids(tok)])
    rows = []
    for k in tqdm(range(0, len(prompts), batch_size), desc="self-chat", unit="batch"):
        batch = prompts[k : k + batch_size]
        contexts = [
            tok(tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True),
                add_special_tokens=False)["input_ids"]
            for p in batch
        ]
        outs = engine.generate(contexts, max_new_tokens=[max_new_tokens] * len(batch), generators=[None] * len(batch))
        for p, out in zip(batch, outs, strict=True):
            reply = tok.decode(out.ids[:-1] if out.stopped else out.ids, skip_special_tokens=True).strip()
            if reply:
                rows.append({"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": reply}]})
    return rows
