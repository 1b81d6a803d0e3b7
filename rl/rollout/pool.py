"""Ray rollout workers and the pool that shards episodes over them.

    pool = RolloutPool.remote(setup)                      # N RolloutWorker actors, each a policy replica + envs
    trajs, stats = ray.get(pool.rollout.remote(requests)) # requests: [{"task", "seed", "sample_index"}]
    ray.get(pool.rollout.remote(requests, max_turns=1))   # the same, each episode stopping after one message
    ray.get(pool.sync_weights.remote([ref], version))     # after each optimizer step
    ray.get(pool.switch_policy.remote(other_setup))       # another model, in the same worker processes

The pool is itself a small async actor, so every learner process (rank 0 and the others) talks to the same
pool, and the pool alone remembers the latest weights: when a worker dies, Ray restarts it, the pool sends
it the latest weights, and retries its batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

import ray
import torch
from ray.exceptions import RayActorError

from rl.rollout.episodes import Trajectory
from rl.rollout.setup import RolloutSetup, build_runner

log = logging.getLogger(__name__)


class RolloutWorker:
    """A policy replica with its envs. Wrapped with `ray.remote` by the pool."""

    def __init__(self, setup: RolloutSetup, worker_index: int) -> None:
        torch.set_num_threads(setup.rollout.torch_threads)
        self.index = worker_index
        self.load(setup)

    def load(self, setup: RolloutSetup) -> None:
        """Loads `setup`'s policy in place of the current one, at weights version 0.

        The old model is freed first, so the new one reuses this process's memory: a new process would fault in
        about 2 GiB afresh, which on a VM whose host backs memory on first touch cost about 8 s per GiB (README,
        Results: Fresh memory).
        """
        import gc

        from rl.checkpoint import load_policy

        self.runner = None
        gc.collect()
        p = setup.policy
        model, tok = load_policy(p.name_or_path, dtype=p.dtype, fmt=setup.format,
                                 lora=setup.lora, allow_download=p.allow_download)
        if torch.cuda.is_available() and setup.rollout.gpus_per_worker > 0:
            model = model.cuda()
        self.setup = setup
        self.runner = build_runner(setup, model, tok)
        self.version = 0  # the learner step of the weights in use; every trajectory is tagged with it

    def set_weights(self, state: dict[str, torch.Tensor], version: int) -> float:
        """Loads new policy weights (a LoRA adapter, or the full state dict); returns seconds taken."""
        t = time.perf_counter()
        self.runner.engine.set_weights(state, version)
        self.version = version
        return time.perf_counter() - t

    def get_version(self) -> int:
        return self.version

    def rollout(self, requests: list[dict[str, Any]], max_turns: int | None = None) -> tuple[list[Trajectory], dict]:
        trajs, timing = self.runner.run(
            [r["task"] for r in requests],
            [r["seed"] for r in requests],
            [r["sample_index"] for r in requests],
            temperature=self.setup.temperature,
            top_p=self.setup.top_p,
            version=self.version,
            max_turns=max_turns,
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

    def __init__(self, setup: RolloutSetup) -> None:
        r = setup.rollout
        worker_cls = ray.remote(RolloutWorker)
        self.setup = setup
        self._started_with = setup  # what Ray restarts a dead worker with
        self.workers = [
            worker_cls.options(
                num_cpus=r.cpus_per_worker, num_gpus=r.gpus_per_worker, max_restarts=r.max_restarts, max_task_retries=0
            ).remote(setup, i)
            for i in range(r.num_workers)
        ]
        self.weights_ref: ray.ObjectRef | None = None
        self.version = 0
        self.lost_batches = 0  # batches lost to dead workers and retried

    async def ready(self) -> int:
        await asyncio.gather(*[w.get_version.remote() for w in self.workers])
        return len(self.workers)

    async def switch_policy(self, setup: RolloutSetup) -> None:
        """Every worker loads `setup`'s policy in place of its own (`RolloutWorker.load`), in the same process.

        Raises:
            ValueError: `setup` differs from the pool's in more than its policy (workers, limits, format...).
        """
        if dataclasses.replace(setup, policy=self.setup.policy) != self.setup:
            raise ValueError("switch_policy: only the policy may change; start a new pool for other settings")
        self.setup, self.weights_ref, self.version = setup, None, 0
        await asyncio.gather(*[w.load.remote(setup) for w in self.workers])

    async def sync_weights(self, wrapped_ref: list[ray.ObjectRef], version: int) -> float:
        """Sends new weights to every worker. The ref comes wrapped in a list so the pool never fetches it."""
        t = time.perf_counter()
        self.weights_ref, self.version = wrapped_ref[0], version
        await asyncio.gather(*[w.set_weights.remote(self.weights_ref, version) for w in self.workers])
        return time.perf_counter() - t

    async def stats(self) -> dict[str, Any]:
        """The workers' weight versions, and how many batches were lost to dead workers and retried."""
        versions = list(await asyncio.gather(*[w.get_version.remote() for w in self.workers]))
        return {"worker_versions": versions, "lost_batches": self.lost_batches}

    async def rollout(self, requests: list[dict[str, Any]], max_turns: int | None = None
                      ) -> tuple[list[Trajectory], dict[str, Any]]:
        """Plays every request; contiguous shards keep a task's samples together (same prompt, less padding).
        `max_turns` replaces the setup's assistant messages per user turn for these episodes."""
        t = time.perf_counter()
        n = len(self.workers)
        bounds = [round(i * len(requests) / n) for i in range(n + 1)]
        shards = [(self.workers[i], requests[bounds[i] : bounds[i + 1]]) for i in range(n)]
        results = await asyncio.gather(*[self._run_shard(w, reqs, max_turns) for w, reqs in shards if reqs])
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

    async def _run_shard(self, worker, reqs, max_turns):
        attempts = self.setup.rollout.max_restarts + 1
        for attempt in range(attempts):
            try:
                return await worker.rollout.remote(reqs, max_turns)
            except RayActorError as e:
                self.lost_batches += 1
                log.warning("rollout worker died (%s); retrying its %d episodes (attempt %d)", type(e).__name__, len(reqs), attempt + 1)
                await self._resync(worker)
        raise RuntimeError(f"rollout worker failed {attempts} times in a row; giving up")

    async def _resync(self, worker) -> None:
        # Ray restarts the actor from its constructor, i.e. with the pool's first policy and its initial weights:
        # send the current ones.
        for _ in range(60):
            try:
                if self.setup != self._started_with:
                    await worker.load.remote(self.setup)
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
