"""Ray rollout workers and the pool that shards episodes over them.

    pool = RolloutPool.remote(cfg)                        # N RolloutWorker actors, each a policy replica + envs
    trajs, stats = ray.get(pool.rollout.remote(requests)) # requests: [{"task", "seed", "sample_index"}]
    ray.get(pool.sync_weights.remote([ref], version))     # after each optimizer step

The pool is itself a small async actor, so every learner process (rank 0 and the others) talks to the same
pool, and the pool alone remembers the latest weights: when a worker dies, Ray restarts it, the pool sends
it the latest weights, and retries its batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import ray
import torch
from ray.exceptions import RayActorError

import rewards
from envs.formats import get_format
from rl.chat import ChatRenderer
from rl.config import RunConfig
from rl.engine import HFEngine
from rl.episodes import EpisodeRunner, Limits, Trajectory

log = logging.getLogger(__name__)


def make_format(cfg: RunConfig, tokenizer: Any):
    return get_format(
        cfg.format.name, tool_style=cfg.format.tool_style, decision_inner=cfg.format.decision_inner, tokenizer=tokenizer
    )


def reward_spec(cfg: RunConfig) -> rewards.RewardSpec:
    return rewards.RewardSpec(
        weights=dict(cfg.rewards.components),
        length_limit_tokens=cfg.rewards.length_limit_tokens,
        format_name=cfg.format.name,
        decision_inner=cfg.format.decision_inner,
        max_output_chars=cfg.env.max_output_chars,
    )


def limits(cfg: RunConfig) -> Limits:
    r = cfg.rollout
    return Limits(
        max_turns=r.max_turns,
        max_new_tokens=r.max_new_tokens,
        max_total_tokens=r.max_total_tokens,
        max_output_chars=cfg.env.max_output_chars,
        call_timeout_s=cfg.env.call_timeout_s,
    )


def build_runner(cfg: RunConfig, model: torch.nn.Module, tokenizer: Any) -> EpisodeRunner:
    """An EpisodeRunner over an in-process model (used by workers and by evaluation)."""
    if cfg.rollout.engine != "hf":
        raise NotImplementedError(
            f"rollout.engine={cfg.rollout.engine!r}: only the 'hf' engine ships in this build; the Engine protocol "
            "in rl/engine.py is where a vLLM engine plugs in"
        )
    renderer = ChatRenderer(tokenizer, make_format(cfg, tokenizer), cfg.format.placement)
    engine = HFEngine(model, tokenizer.pad_token_id, renderer.stop_token_ids)
    return EpisodeRunner(engine, renderer, limits(cfg), reward_spec(cfg))


class RolloutWorker:
    """A policy replica with its envs. Wrapped with `ray.remote` by the pool."""

    def __init__(self, cfg: RunConfig, worker_index: int) -> None:
        from rl.models import load_policy

        torch.set_num_threads(cfg.rollout.torch_threads)
        self.cfg = cfg
        self.index = worker_index
        model, tok = load_policy(
            cfg.model.name_or_path,
            dtype=cfg.model.dtype,
            decision_tokens=cfg.format.name == "decision",
            lora=cfg.model.lora,
            allow_download=cfg.model.allow_download,
        )
        if torch.cuda.is_available() and cfg.rollout.gpus_per_worker > 0:
            model = model.cuda()
        self.model = model
        self.lora = cfg.model.lora is not None
        self.merged = False
        self.runner = build_runner(cfg, model, tok)
        self.version = 0

    def set_weights(self, state: dict[str, torch.Tensor], version: int) -> float:
        """Loads new policy weights (a LoRA adapter, or the full state dict); returns seconds taken."""
        t = time.perf_counter()
        if self.lora:
            from peft import set_peft_model_state_dict

            # Generation runs on merged weights (LoRA costs nothing per token); unmerge before loading new ones.
            if self.merged:
                self.model.unmerge_adapter()
            set_peft_model_state_dict(self.model, state)
            self.model.merge_adapter()
            self.merged = True
        else:
            self.model.load_state_dict(state)
        self.runner.engine.clear_cache()  # keys/values computed with the old weights are stale
        self.version = version
        return time.perf_counter() - t

    def get_version(self) -> int:
        return self.version

    def rollout(self, requests: list[dict[str, Any]], temperature: float, top_p: float) -> tuple[list[Trajectory], dict]:
        trajs, timing = self.runner.run(
            [r["task"] for r in requests],
            [r["seed"] for r in requests],
            [r["sample_index"] for r in requests],
            temperature=temperature,
            top_p=top_p,
            version=self.version,
        )
        timing["worker"] = self.index
        return trajs, timing

    def crash(self) -> None:
        """Kills this worker's process (used by the fault-tolerance test)."""
        import os

        os._exit(1)


@ray.remote(num_cpus=0)
class RolloutPool:
    """Shards episode requests over N rollout workers; restarts and re-syncs workers that die."""

    def __init__(self, cfg: RunConfig) -> None:
        r = cfg.rollout
        worker_cls = ray.remote(RolloutWorker)
        self.cfg = cfg
        self.workers = [
            worker_cls.options(
                num_cpus=r.cpus_per_worker, num_gpus=r.gpus_per_worker, max_restarts=r.max_restarts, max_task_retries=0
            ).remote(cfg, i)
            for i in range(r.num_workers)
        ]
        self.weights_ref: ray.ObjectRef | None = None
        self.version = 0
        self.lost_batches = 0  # batches lost to dead workers and retried

    async def ready(self) -> int:
        await asyncio.gather(*[w.get_version.remote() for w in self.workers])
        return len(self.workers)

    async def sync_weights(self, wrapped_ref: list[ray.ObjectRef], version: int) -> float:
        """Sends new weights to every worker. The ref comes wrapped in a list so the pool never fetches it."""
        t = time.perf_counter()
        self.weights_ref, self.version = wrapped_ref[0], version
        await asyncio.gather(*[w.set_weights.remote(self.weights_ref, version) for w in self.workers])
        return time.perf_counter() - t

    async def versions(self) -> list[int]:
        return list(await asyncio.gather(*[w.get_version.remote() for w in self.workers]))

    async def rollout(
        self, requests: list[dict[str, Any]], temperature: float | None = None, top_p: float | None = None
    ) -> tuple[list[Trajectory], dict[str, Any]]:
        """Plays every request; contiguous shards keep a task's samples together (same prompt, less padding)."""
        temperature = self.cfg.rollout.temperature if temperature is None else temperature
        top_p = self.cfg.rollout.top_p if top_p is None else top_p
        t = time.perf_counter()
        n = len(self.workers)
        bounds = [round(i * len(requests) / n) for i in range(n + 1)]
        shards = [(self.workers[i], requests[bounds[i] : bounds[i + 1]]) for i in range(n)]
        results = await asyncio.gather(*[self._run_shard(w, reqs, temperature, top_p) for w, reqs in shards if reqs])
        trajs = [tr for shard_trajs, _ in results for tr in shard_trajs]
        timings = [tm for _, tm in results]
        stats = {
            "rollout_s": time.perf_counter() - t,
            "generate_s": max((tm["generate_s"] for tm in timings), default=0.0),
            "env_s": max((tm["env_s"] for tm in timings), default=0.0),
            "reward_s": max((tm["reward_s"] for tm in timings), default=0.0),
            "policy_tokens": sum(tm["policy_tokens"] for tm in timings),
            "lost_batches": self.lost_batches,
        }
        return trajs, stats

    async def _run_shard(self, worker, reqs, temperature, top_p):
        attempts = self.cfg.rollout.max_restarts + 1
        for attempt in range(attempts):
            try:
                return await worker.rollout.remote(reqs, temperature, top_p)
            except RayActorError as e:
                self.lost_batches += 1
                log.warning("rollout worker died (%s); retrying its %d episodes (attempt %d)", type(e).__name__, len(reqs), attempt + 1)
                await self._resync(worker)
        raise RuntimeError(f"rollout worker failed {attempts} times in a row; giving up")

    async def _resync(self, worker) -> None:
        # Ray restarts the actor from its constructor, i.e. with the initial weights: send the latest ones.
        for _ in range(60):
            try:
                if self.weights_ref is not None:
                    await worker.set_weights.remote(self.weights_ref, self.version)
                else:
                    await worker.get_version.remote()
                return
            except RayActorError:
                await asyncio.sleep(0.5)  # still restarting

    async def crash_worker(self, index: int) -> None:
        try:
            await self.workers[index].crash.remote()
        except RayActorError:
            pass
