"""Multi-turn tool-use episodes, run in lockstep batches, token-in token-out.

One `EpisodeRunner.run` call plays a batch of tasks together: each round, every episode that is waiting for
the policy generates in one batched engine call; then each parsed message is executed in its own env and
the environment's reply (tool results, or the next user turn) is appended as tokens with env_mask=0.

    context  = prompt_ids + completion_ids
    completion_ids = [assistant tokens (mask 1)] [tool / user tokens (mask 0)] [assistant tokens (mask 1)] ...

Used by the Ray rollout workers for training (sampled) and by evaluation (greedy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import torch

import envs
import rewards
from envs.open_world import offered_tools
from envs.types import Episode, Step, Task, ToolResult
from rl.rollout.chat import ChatRenderer
from rl.rollout.engine import Engine


@dataclass
class Limits:
    max_turns: int = 4  # assistant messages per user turn
    max_new_tokens: int = 128  # per assistant message
    max_total_tokens: int = 1024  # prompt + completion
    max_output_chars: int = 1000  # per tool output
    call_timeout_s: float = 1.0
    max_searches: int = 3  # open mode (envs/open_world.py)


@dataclass
class Trajectory:
    """What one episode gives the learner (and the logs)."""

    task_id: str
    sample_index: int
    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]  # 1 = policy token (trained), 0 = environment token (context only)
    logprobs: list[float]  # sampling logprob for policy tokens, 0.0 for environment tokens
    episode: Episode
    rewards: dict[str, float]  # component -> score, plus "total"
    reward_details: dict[str, Any] = field(default_factory=dict)
    turn_scores: dict[str, list[float]] = field(default_factory=dict)  # component -> score of each user turn
    version: int = 0


def episode_seed(step: int, task_id: str, sample_index: int, base_seed: int = 0) -> int:
    """A seed that depends only on (step, task, sample): sharding work differently cannot change rollouts."""
    digest = hashlib.blake2b(f"{base_seed}/{step}/{task_id}/{sample_index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


class _Live:
    """Mutable state of one running episode."""

    def __init__(self, task: Task, seed: int | None, sample_index: int, renderer: ChatRenderer, limits: Limits):
        self.task = task
        self.sample_index = sample_index
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)
        self.env = envs.env_for_task(task, max_searches=limits.max_searches, max_output_chars=limits.max_output_chars,
                                     call_timeout_s=limits.call_timeout_s)
        self.env_seed = 0 if seed is None else seed
        self.env.reset(task, seed=self.env_seed)
        self.renderer = renderer.for_task(task)  # the run's format, or the task's own (BFCL format sensitivity)
        self.messages = self.renderer.initial_messages(task)
        self.prompt_ids = self.renderer.prompt_ids(self.messages, offered_tools(task))
        self.completion_ids: list[int] = []
        self.env_mask: list[int] = []
        self.logprobs: list[float] = []
        self.episode = Episode(task_id=task.id, messages=list(self.messages), metadata={"env_seed": self.env_seed})
        self.turn = 0
        self.steps_in_turn = 0
        self.max_turns = limits.max_turns
        self.done = False

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.completion_ids)

    def append(self, ids: list[int], mask: int, logprobs: list[float] | None = None) -> None:
        self.completion_ids += ids
        self.env_mask += [mask] * len(ids)
        self.logprobs += logprobs if logprobs is not None else [0.0] * len(ids)


class EpisodeRunner:
    """Plays batches of episodes with one engine.

    Args:
        engine: Token generator (hf or vllm).
        renderer: Chat/format rendering for the policy's tokenizer.
        limits: Episode limits.
        reward_spec: Which reward components to compute, with their weights.
    """

    def __init__(self, engine: Engine, renderer: ChatRenderer, limits: Limits, reward_spec: rewards.RewardSpec):
        self.engine = engine
        self.renderer = renderer
        self.limits = limits
        self.reward_spec = reward_spec

    def run(
        self,
        tasks: list[Task],
        seeds: list[int | None],
        sample_indices: list[int] | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        version: int = 0,
        max_turns: int | None = None,
    ) -> tuple[list[Trajectory], dict[str, float]]:
        """Plays one episode per task. A seed of None means greedy decoding.

        `max_turns` replaces the runner's `limits.max_turns` for this call's episodes (an evaluation plays its
        one-message tasks with 1, its other tasks with the config's limit, on the same workers).

        Returns:
            The trajectories, and the batch's timing (generate / env / reward seconds, policy tokens).
        """
        t0 = time.perf_counter()
        sample_indices = sample_indices or [0] * len(tasks)
        limits = self.limits if max_turns is None else dataclasses.replace(self.limits, max_turns=max_turns)
        live = [_Live(t, s, k, self.renderer, limits) for t, s, k in zip(tasks, seeds, sample_indices, strict=True)]
        gen_s = env_s = 0.0
        while True:
            for e in live:
                if not e.done and e.length >= self.limits.max_total_tokens:  # a prompt as long as the budget
                    self._end(e, truncated=True)
            active = [e for e in live if not e.done]
            if not active:
                break
            budgets = [min(self.limits.max_new_tokens, self.limits.max_total_tokens - e.length) for e in active]
            t = time.perf_counter()
            outs = self.engine.generate(
                [e.prompt_ids + e.completion_ids for e in active],
                max_new_tokens=budgets,
                generators=[e.generator for e in active],
                temperature=temperature,
                top_p=top_p,
                cache_keys=active,  # each episode's _Live object keys its KV cache from one round to the next
            )
            gen_s += time.perf_counter() - t
            t = time.perf_counter()
            for e, out in zip(active, outs, strict=True):
                self._advance(e, out.ids, out.logprobs, out.stopped)
            env_s += time.perf_counter() - t

        t = time.perf_counter()
        trajectories = []
        for e in live:
            e.episode.final_state = e.env.state()
            e.env.close()
            scored = rewards.score(e.task, e.episode, self.reward_spec)
            comps = {name: r.score for name, r in scored.components.items()}
            comps["total"] = scored.total
            details = {
                name: {"valid": r.valid, "error_type": r.error_type} for name, r in scored.components.items()
            }
            turn_scores = {
                name: list(r.details["turn_scores"]) for name, r in scored.components.items() if "turn_scores" in r.details
            }
            e.episode.metadata.update(version=version, sample_index=e.sample_index)
            trajectories.append(
                Trajectory(
                    task_id=e.task.id,
                    sample_index=e.sample_index,
                    prompt_ids=e.prompt_ids,
                    completion_ids=e.completion_ids,
                    env_mask=e.env_mask,
                    logprobs=e.logprobs,
                    episode=e.episode,
                    rewards=comps,
                    reward_details=details,
                    turn_scores=turn_scores,
                    version=version,
                )
            )
        timing = {
            "generate_s": gen_s,
            "env_s": env_s,
            "reward_s": time.perf_counter() - t,
            "total_s": time.perf_counter() - t0,
            "policy_tokens": float(sum(sum(tr.env_mask) for tr in trajectories)),
        }
        self.engine.release(live)  # the episodes are over: free their KV caches
        return trajectories, timing

    # ---- one assistant message: parse, execute, append the environment's reply ----------------------
    def _advance(self, e: _Live, ids: list[int], logprobs: list[float], stopped: bool) -> None:
        r, task = e.renderer, e.task
        e.append(ids, 1, logprobs)
        generated_text = r.tokenizer.decode(ids, skip_special_tokens=False)
        text = r.decode_assistant(ids, stopped)
        parsed = r.fmt.parse(text)
        step = Step(
            turn=e.turn, text=text, calls=parsed.calls, parse_error=parsed.error, decision=parsed.decision, num_tokens=len(ids)
        )
        truncated = not stopped and e.length >= self.limits.max_total_tokens  # cut by the episode budget
        results_msgs: list[dict[str, Any]] = []
        if parsed.calls and not truncated:
            step.results = _safe_step(e.env, parsed.calls)
            results_msgs = r.fmt.render_results(step.results)
        elif parsed.error and not truncated:
            # Malformed output is answered like a failed call: an error observation the policy can act on.
            results_msgs = [{"role": "tool", "content": json.dumps({"error": f"invalid tool call: {parsed.error}"})}]
        e.episode.steps.append(step)
        history = e.messages
        assistant = r.assistant_message(text, parsed.calls)
        e.messages = history + [assistant] + results_msgs
        e.episode.messages.extend(e.messages[len(history) :])
        if truncated:
            self._end(e, truncated=True)
            return

        e.steps_in_turn += 1
        if results_msgs and e.steps_in_turn < e.max_turns:
            new_messages = results_msgs  # the policy continues this user turn after seeing the results
        else:
            e.episode.turn_states.append(e.env.state())
            e.turn, e.steps_in_turn = e.turn + 1, 0
            if e.turn >= len(task.turns):
                self._end(e)
                return
            user = [dict(m) for m in task.turns[e.turn]]
            new_messages = results_msgs + user
            e.messages = e.messages + user
            e.episode.messages.extend(user)
        cont = r.continuation_ids(assistant, generated_text, new_messages, offered_tools(task))
        if e.length + len(cont) >= self.limits.max_total_tokens:
            self._end(e, truncated=True)
            return
        e.append(cont, 0)

    @staticmethod
    def _end(e: _Live, truncated: bool = False) -> None:
        if truncated:
            e.episode.truncated = True
            if len(e.episode.turn_states) <= e.turn:  # record where the cut-off turn got to
                e.episode.turn_states.append(e.env.state())
        e.done = True


def _safe_step(env: Any, calls: list) -> list[ToolResult]:
    """env.step never raises by contract; this guard keeps one buggy env from killing a whole batch."""
    try:
        return env.step(calls)
    except Exception as exc:  # noqa: BLE001 - reported to the policy as an error observation
        return [ToolResult(call=c, error=f"environment failure: {type(exc).__name__}: {exc}") for c in calls]
