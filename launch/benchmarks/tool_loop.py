"""Multi-turn tool episodes per second: toolgym's EpisodeRunner against TRL's own tool loop (`vs_trl_tool_loop`).

What a user would otherwise pick for multi-turn tool rollouts is TRL's `GRPOTrainer` with
`environment_factory`: each environment's public methods are its tools, and TRL generates, parses
`<tool_call>` blocks, calls the methods and generates again until no call is left or its iteration limit binds.
Both sides here play the same 16 multi_step tasks (one user turn, several dependent calls) in one process with
the same torch threads:

- the model: SmolLM2-135M after a short LoRA SFT in the `native` format under TRL's Qwen3 chat template
  (`native_checkpoint`), which answers with `<tool_call>` blocks that TRL's parser reads. The base model never
  calls, and then both sides would time one message per episode: `tool_loops_entered` says whether both called;
- the prompts: the same token ids (checked: `same_prompt_ids`). TRL gets each task's own tool schemas (its
  `_env_tools` entry replaced by them after construction; left alone, TRL renders the schemas it derives from
  the method signatures, which lose enums' descriptions and defaults), and one environment class per task whose
  methods forward to the task's toolgym env, reset with the task and its episode seed;
- sampling: temperature 0.7, top_p 1.0, no top_k, `max_new_tokens` 64 per assistant message on both sides
  (TRL: `generation_kwargs`); TRL's whole-completion budget (`max_completion_length`) is set high enough
  never to bind, and its `max_tool_calling_iterations` is our `max_turns` - 1 (both count the assistant
  messages after the first);
- what is timed: for TRL, `GRPOTrainer._generate` (generation, the tool loop and the env calls, without the
  env resets, which come before it, and the reward and log-prob scoring that `_generate_and_score_completions`
  adds for training); for toolgym, `EpisodeRunner.run` (env creation and reset, generation, env steps, reward
  scoring and cache release). TRL runs `model.generate` on the batch (its default; no vLLM on CPU) and
  regenerates each tool-calling row from its whole context every iteration; the runner decodes in lockstep and
  reuses each episode's KV cache across rounds.

The two sides sample with different RNGs (TRL: one global generator; toolgym: one per episode), so their
episodes differ; `policy_tokens`, `tool_calls` and `assistant_messages` show how much work each side did, and
`policy_tok_s` compares the rate per generated token as well. The loops also stop differently: TRL ends a row at
a message whose calls do not parse and counts only the calls it executed, while toolgym returns an error
observation and goes on, and counts every call (the last message's too). toolgym's episodes can therefore run
longer, which weighs against it in episodes/s; `policy_tok_s` is the rate per unit of work. Rounds alternate
the sides; medians are compared. Goal: `vs_trl_tool_loop` = toolgym episodes/s over TRL's >= 1.5.
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import torch

CATEGORIES = ["multi_step"]  # TRL's loop has no hook for a follow-up user turn, so no multi_turn tasks
MAX_NEW_TOKENS = 64
MAX_TURNS = 4
TEMPERATURE = 0.7
SFT_CONFIG = "configs/sft_smollm2.yaml"
SFT_OVERRIDES = [
    "format.name=native",
    "format.chat_template=qwen3",  # TRL's Qwen3 template: its `<tool_call>` grammar is what TRL parses
    "data.categories=[simple, multiple, multi_step]",
    # A model that calls is all this benchmark needs. The demo's data settings would give about 4x the examples,
    # half of them abstaining, which teaches declining: this benchmark does not time it.
    "data.train_size=120",
    "sft.non_fc_ratio=0.1",
    # The native prompt carries the tools' full JSON schemas: at the config's 640 tokens two thirds of the
    # examples (all multi_step ones among them) are rejected as too long, and the model learns not to call.
    "sft.max_length=1536",
    "sft.batch_size=4",  # keeps the activations of 1536-token rows near those of the config's 8 x 640
    "sft.epochs=2",
    # SmolLM2's vocabulary lacks the template's `<tool_call>`, so it stays text spelled in existing tokens
    # (rl.models.prepare_tokenizer), which LoRA trains like the rest of the reply. As a new embedding row it was
    # never emitted, after LoRA or a 68-step full fine-tune.
    "logging.report_to=none",
]
_JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict}


def native_checkpoint(out_dir: str) -> str:
    """A SmolLM2-135M that calls tools in the native format: trained by a short SFT (configs/sft_smollm2.yaml with
    `SFT_OVERRIDES`), or the one an earlier run of the same settings left in `out_dir` (a run of other settings
    there is replaced: the directory is this benchmark's cache)."""
    import shutil

    from launch.common import config_and_train_tasks
    from rl.checkpoint import read_manifest
    from rl.config import to_dict
    from rl.train import sft

    root = Path(__file__).resolve().parents[2]
    cfg, tasks = config_and_train_tasks(str(root / SFT_CONFIG), [*SFT_OVERRIDES, f"trainer.output_dir={out_dir}"],
                                        stage="sft")
    final = Path(out_dir) / "final"
    manifest = read_manifest(final)  # None until the SFT has finished and saved its final checkpoint
    if manifest and manifest.get("config") == to_dict(cfg):
        return str(final)
    shutil.rmtree(out_dir, ignore_errors=True)
    sft.train_sft(cfg, tasks)
    return str(final)


# ---- TRL's side: environments whose methods are the task's tools ---------------------------------------------
def _py_type(schema: dict[str, Any]) -> Any:
    """A type hint that transformers' `get_json_schema` maps back to this JSON schema's type (TRL requires hints)."""
    if schema.get("enum"):
        return Literal[tuple(schema["enum"])]
    if schema.get("type") == "array":
        return list[_py_type(schema["items"])] if isinstance(schema.get("items"), dict) else list
    return _JSON_TYPES.get(schema.get("type"), Any)


def _tool_method(schema: dict[str, Any]) -> Any:
    """A method with the signature, hints and Google docstring TRL reads as this tool; it calls `self._call`."""
    from envs.schema import normalize_tool

    fn = normalize_tool(schema)["function"]
    name, params = fn["name"], fn["parameters"]
    required = set(params.get("required") or [])
    signature = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    hints, doc = {}, [fn.get("description") or name, "", "Args:"]
    for p, ps in params.get("properties", {}).items():
        hints[p] = _py_type(ps)
        default = inspect.Parameter.empty if p in required else ps.get("default")
        signature.append(inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[p]))
        doc.append(f"    {p}: {(ps.get('description') or p).replace(chr(10), ' ')}")

    def method(self, **kwargs):
        return self._call(name, kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = "\n".join(doc) if hints else (fn.get("description") or name)
    method.__signature__ = inspect.Signature(signature)
    method.__annotations__ = hints
    return method


class _ToolgymEnv:
    """A TRL environment over one toolgym task: `reset(**row)` starts the row's task; each tool is a method."""

    def reset(self, **row: Any) -> None:
        import envs
        from envs.types import Task

        task = Task.from_json(row["task"])
        self.env = envs.env_for_task(task, max_output_chars=row["max_output_chars"], call_timeout_s=1.0)
        self.env.reset(task, seed=row["env_seed"])

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        from envs.types import ToolCall

        result = self.env.step([ToolCall(name, arguments)])[0]
        # The line toolgym's native format renders for a result; TRL wraps it in a tool message itself.
        return json.dumps({"name": name, "result": result.observation()}, ensure_ascii=False, default=str)


def _trl_trainer(model: Any, tok: Any, tasks: list, out_dir: str) -> tuple[Any, list[dict[str, Any]]]:
    from datasets import Dataset
    from trl import GRPOConfig

    from envs.schema import normalize_tool
    from rl.rollout.episodes import episode_seed

    factories = {t.id: type(f"Env_{i}", (_ToolgymEnv,), {normalize_tool(s)["function"]["name"]: _tool_method(s)
                                                          for s in t.tools}) for i, t in enumerate(tasks)}
    rows = [{"prompt": t.turns[0], "environment": t.id, "task": t.to_json(),
             "env_seed": episode_seed(0, t.id, 0), "max_output_chars": 1000} for t in tasks]
    args = GRPOConfig(
        output_dir=out_dir, report_to="none", max_steps=1, use_cpu=True, bf16=False, save_strategy="no",
        gradient_checkpointing=False,  # TRL's default True also turns the KV cache off for generation
        per_device_train_batch_size=len(tasks), num_generations=2, temperature=TEMPERATURE, top_p=1.0, top_k=0,
        max_completion_length=4096,  # the whole completion (model and tool tokens): never binds here
        generation_kwargs={"max_new_tokens": MAX_NEW_TOKENS},
        max_tool_calling_iterations=MAX_TURNS - 1,
        disable_tqdm=True, dataloader_num_workers=0)
    trainer = _timed_trainer_class()(model=model, args=args, processing_class=tok, train_dataset=Dataset.from_list(rows),
                          reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
                          environment_factory=factories)
    for t in tasks:  # render exactly the schemas toolgym's native format renders (see module doc)
        trainer._env_tools[t.id] = [normalize_tool(s) for s in t.tools]
    return trainer, rows


def _timed_trainer_class() -> type:
    from trl import GRPOTrainer

    class TimedGRPOTrainer(GRPOTrainer):
        """TRL's trainer, unchanged, but it records how long `_generate` took and what its tool loop returned."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.seen: dict[str, Any] = {}  # the last batch's figures

        def _generate(self, prompts):
            self.seen = {}
            t = time.perf_counter()
            out = super()._generate(prompts)
            self.seen["generate_s"] = time.perf_counter() - t
            return out

        def _tool_call_loop(self, *args, **kwargs):
            out = super()._tool_call_loop(*args, **kwargs)
            self.seen.update(tool_calls=out[4], completions=out[1])
            return out

    return TimedGRPOTrainer


def _run_trl(trainer: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One batch through TRL's rollout (env reset, tokenize, generate, tool loop), timing `_generate`."""
    out = trainer._generate_and_score_completions([dict(r) for r in rows])
    seen = trainer.seen
    generated = out["completion_mask"] * out["tool_mask"]  # [B, T] 1 = a token the model sampled
    completions = seen.get("completions") or []
    return {
        "seconds": seen["generate_s"],
        "policy_tokens": int(generated.sum()),
        "tool_calls": int(seen.get("tool_calls", 0)),
        "episodes_with_calls": sum(any(m["role"] == "tool" for m in c) for c in completions),
        "assistant_messages": sum(m["role"] == "assistant" for c in completions for m in c),
        "prompt_ids": [ids[mask.bool()].tolist() for ids, mask in zip(out["prompt_ids"], out["prompt_mask"], strict=True)],
    }


# ---- toolgym's side ----------------------------------------------------------------------------------------
def _runner(model: Any, tok: Any, model_path: str) -> Any:
    from rl.config import load_config
    from rl.rollout.setup import RolloutSetup, build_runner

    cfg = load_config(None, [f"model.name_or_path={model_path}", "format.name=native", "format.chat_template=qwen3",
                             f"rollout.max_new_tokens={MAX_NEW_TOKENS}", f"rollout.max_turns={MAX_TURNS}",
                             "rollout.max_total_tokens=4096"])
    return build_runner(RolloutSetup.of(cfg), model, tok)


def _run_ours(runner: Any, tasks: list) -> dict[str, Any]:
    from rl.rollout.episodes import episode_seed

    t = time.perf_counter()
    trajs, timing = runner.run(tasks, [episode_seed(0, task.id, 0) for task in tasks], temperature=TEMPERATURE)
    seconds = time.perf_counter() - t
    steps = [step for tr in trajs for step in tr.episode.steps]
    return {
        "seconds": seconds,
        "policy_tokens": int(timing["policy_tokens"]),
        "tool_calls": sum(len(step.calls) for step in steps),
        "episodes_with_calls": sum(any(step.calls for step in tr.episode.steps) for tr in trajs),
        "assistant_messages": len(steps),
        "prompt_ids": [tr.prompt_ids for tr in trajs],
    }


def run(model_path: str | None = None, episodes: int = 16, rounds: int = 3, threads: int | None = None,
        sft_dir: str = "runs/bench/sft_native") -> dict[str, Any]:
    """Both sides on the same tasks, alternating for `rounds` rounds each (see module doc).

    Args:
        model_path: A native-format checkpoint; None trains (or reuses) `native_checkpoint(sft_dir)`.
        episodes: Tasks per batch (one episode each).
        rounds: Timed batches per side.
        threads: torch threads for both sides (None: every core).
        sft_dir: Where the native-format SFT is kept between runs.
    """
    import envs.tasks
    from rl.checkpoint import load_policy
    from rl.config.sections import FormatConfig

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    t0 = time.perf_counter()
    model_path = model_path or native_checkpoint(sft_dir)
    sft_s = time.perf_counter() - t0
    saved = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as trl_out:  # TRL's output_dir; it saves nothing (save_strategy "no")
        try:
            model, tok = load_policy(model_path, fmt=FormatConfig(name="native", chat_template="qwen3"))
            tasks = envs.tasks.generate(episodes, "train", seed=0, categories=CATEGORIES)
            trainer, rows = _trl_trainer(model, tok, tasks, trl_out)
            runner = _runner(model, tok, model_path)
            sides: dict[str, list[dict[str, Any]]] = {"trl": [], "toolgym": []}
            for k in range(rounds):
                for side in (["trl", "toolgym"] if k % 2 == 0 else ["toolgym", "trl"]):
                    torch.manual_seed(k)  # TRL samples from the global generator
                    sides[side].append(_run_trl(trainer, rows) if side == "trl" else _run_ours(runner, tasks))
        finally:
            torch.set_num_threads(saved)
    same_prompts = sum(a == b for a, b in zip(sides["trl"][0]["prompt_ids"], sides["toolgym"][0]["prompt_ids"], strict=True))
    summary: dict[str, Any] = {}
    for side, results in sides.items():
        for r in results:
            r.pop("prompt_ids")
            r["episodes_per_s"] = episodes / r["seconds"]
            r["policy_tok_s"] = r["policy_tokens"] / r["seconds"]
        summary[side] = {"episodes_per_s": statistics.median(r["episodes_per_s"] for r in results),
                         "policy_tok_s": statistics.median(r["policy_tok_s"] for r in results),
                         # 0 would mean one message per episode: a tool loop never entered
                         "tool_calls": statistics.median(r["tool_calls"] for r in results), "runs": results}
    return {
        "vs_trl_tool_loop": summary["toolgym"]["episodes_per_s"] / summary["trl"]["episodes_per_s"],
        # False: a side never called a tool, so it timed one message per episode and the ratio says nothing
        "tool_loops_entered": all(summary[side]["tool_calls"] > 0 for side in sides),
        "policy_tok_s_vs_trl": summary["toolgym"]["policy_tok_s"] / summary["trl"]["policy_tok_s"],
        "same_prompt_ids": f"{same_prompts}/{episodes}",
        "model": model_path,
        "sft_s": sft_s,
        "episodes": episodes,
        "categories": CATEGORIES,
        "temperature": TEMPERATURE,
        "max_new_tokens": MAX_NEW_TOKENS,
        "max_turns": MAX_TURNS,
        "threads": threads or os.cpu_count(),
        **summary,
    }
