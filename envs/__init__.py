"""toolgym environments: simulated APIs, task generation, formats. Pure Python (no torch, ray, transformers).

    import envs
    envs.list_domains()                        # ["banking", "calendar", ...]
    env = envs.make_env(["banking", "weather"])
    env.reset(task); env.step(calls); env.state(); env.close()
    envs.env_for_task(task)                    # the env a task needs (simulated, BFCL, or schema-only)
    envs.tasks.generate(100, "train", seed=0)
    envs.check_env("banking")                  # raises AssertionError with the reason (or check_env(task))
    envs.replay_ground_truth(task)             # states after each turn of the ground truth
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envs import tasks
from envs.domains import DOMAINS
from envs.env import BaseEnv, Env, SchemaOnlyEnv, ToolEnv
from envs.replay import replay, replay_ground_truth
from envs.types import Task, ToolCall, ToolResult

__all__ = [
    "tasks", "BaseEnv", "Env", "SchemaOnlyEnv", "ToolEnv", "Task", "ToolCall", "ToolResult",
    "list_domains", "make_env", "env_for_task", "check_env", "replay", "replay_ground_truth",
]


def list_domains() -> list[str]:
    """Names of the simulated API domains, sorted."""
    return sorted(DOMAINS)


def make_env(domains: str | Sequence[str], **limits: Any) -> Env:
    """An env over one domain or several together.

    Args:
        domains: A domain name or a list of them (their tools are offered side by side).
        **limits: `max_output_chars` (default 1000) and `call_timeout_s` (default 1.0).
    """
    names = [domains] if isinstance(domains, str) else list(domains)
    unknown = [d for d in names if d not in DOMAINS]
    if unknown or not names:
        raise ValueError(f"unknown domains {unknown}; available: {list_domains()}")
    return Env([DOMAINS[d] for d in names], **limits)


def env_for_task(task: Task, max_searches: int | None = None, **limits: Any) -> ToolEnv:
    """The env a task needs: BFCL multi-turn classes, simulated domains, or a schema-only env; in open mode
    (envs/open_world.py) that env behind `search_tools`.

    Args:
        task: The task.
        max_searches: Open mode's searches per episode (default `open_world.DEFAULT_MAX_SEARCHES`).
        **limits: `max_output_chars` and `call_timeout_s` of the env.

    The env is not reset; call `env.reset(task)`.
    """
    from envs import open_world

    if open_world.is_open(task):
        inner = env_for_task(open_world.golden_task(task), **limits)
        return open_world.OpenToolEnv(inner, open_world.default_retriever(),
                                      max_searches if max_searches is not None else open_world.DEFAULT_MAX_SEARCHES)
    if "bfcl_involved_classes" in task.metadata:
        from envs.bfcl import make_bfcl_env  # written separately; imported only when needed

        return make_bfcl_env(task, **limits)
    if task.domains:
        return make_env(task.domains, **limits)
    return SchemaOnlyEnv(task.tools, **limits)


def check_env(target: str | Task) -> None:
    """Checks the env contract (see envs.check); raises AssertionError with the reason.

    Args:
        target: A domain name (its API's schemas and read-only tools are checked too), or a task, whose env
            (`env_for_task`: simulated, schema-only or BFCL multi-turn) is checked with its ground truth.
    """
    from envs.check import check_domain, check_task_env

    if isinstance(target, str):
        check_domain(target)
    else:
        check_task_env(target)
