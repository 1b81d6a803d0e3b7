"""The one object between the rollout pool and a learner process: `RolloutBridge`.

It owns the glue of a run on one learner process, and nothing else writes to it:
- `play`: the learner's share of a step's task ids -> seeded episode requests -> the pool -> trajectories
  (on-policy: every episode comes from the weights of the current step); `rollout_func` is `play` in TRL's form
  (token ids, env_mask, logprobs and reward components) for GRPO, and PPO reads the trajectories directly;
- with `algorithm.async_rollouts` (GRPO), the next step's episodes, started by `rollout_func` as soon as this
  step's are in, so that the workers play them while the learner trains (one step off-policy); a checkpoint keeps
  them (`PREFETCH_FILE`), so a resumed run trains on the same episodes;
- `reward_funcs` and `reward_weights`: one TRL reward function per component, reading the scores the pool
  computed, and the weights from the run config, which the learner applies (TRL's advantage for GRPO, the
  token rewards for PPO); the trajectory's `total` (rewards.score) is the same weighted sum, for evaluation
  and the rollout tables;
- the step's timing (rollout, generation, env, reward, weight sync, train) and the latest trajectories;
- `evaluate`: greedy episodes of the run's evaluation tasks on the pool right after a weight sync (`eval.*`), and
  the best step by `eval.metric`, kept in the trainer state as HF keeps a best checkpoint;
- the callbacks, made for a trainer that already exists: weight sync + evaluation + step timing in one callback
  (so the sync and the evaluation are inside the step's time whatever the callback order), and the
  checkpoint-aligned logger.

Ray is imported where the pool is called, so that the trainers and their reward functions load in a process
without Ray (launch/benchmarks/gpu.py builds a learner on a GPU machine where Ray is not installed).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from envs.types import Task
from rl.config import RLRunConfig, to_dict
from rl.rollout.episodes import Trajectory, episode_seed
from rl.train.metrics import RunLogger, StepTimer


class ComponentReward:
    """A TRL reward function that reads one precomputed component (so TRL logs `rewards/<name>/mean`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = name  # TRL names reward functions by __name__

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        return list(kwargs[f"reward_{self.name}"])


PREFETCH_FILE = "prefetched_rollouts-rank{rank}.pkl"  # in a checkpoint: the next step's episodes (async runs)


@dataclass
class _Ahead:
    """The episodes of a step started before the step: the pool's reply, or its ref while in flight."""

    step: int
    task_ids: list[str]
    offset: int
    ref: Any = None
    result: tuple[list[Trajectory], dict] | None = None

    def get(self) -> tuple[list[Trajectory], dict]:
        if self.result is None:
            import ray

            self.result, self.ref = ray.get(self.ref), None
        return self.result


class RolloutBridge:
    """Rollouts -> learner for one learner process of an RL run.

    Args:
        pool: The RolloutPool actor handle (shared by every learner process).
        tasks: The training tasks; the learner's dataset holds their ids.
        cfg: The run config.
        policy_of: The policy inside the trainer's model (whose weights the workers get).
        eval_tasks: The tasks of `eval.tasks` by entry (rl.data.load_eval_tasks); empty without evaluation.
    """

    def __init__(self, pool: Any, tasks: list[Task], cfg: RLRunConfig,
                 policy_of: Callable[[torch.nn.Module], torch.nn.Module] = lambda model: model,
                 eval_tasks: dict[str, list[Task]] | None = None) -> None:
        self.pool = pool
        self.eval_tasks = eval_tasks or {}
        self.last_eval: dict[str, float] = {}  # the current step's eval/* figures, if it evaluated
        self.policy_of = policy_of
        self.tasks_by_id = {t.id: t for t in tasks}
        self.cfg = cfg
        self.components = list(cfg.rewards.components)
        self.reward_funcs = [ComponentReward(c) for c in self.components]
        self.reward_weights = [cfg.rewards.components[c] for c in self.components]
        self.timer = StepTimer()
        self.latest: list[Trajectory] = []  # the last step's episodes, for the rollout tables
        self.lost_batches = 0
        self.ahead: _Ahead | None = None  # async runs: the next step's episodes
        self.staleness = 0.0  # the last step's mean weight updates between sampling and learning

    # ---- rollouts --------------------------------------------------------------------------------------
    def play(self, step: int, task_ids: list[str], offset: int) -> list[Trajectory]:
        """Plays this process's share of the step's episodes on the pool (or takes them from `ahead`).

        Args:
            step: The trainer's global step (the weights' version the workers must hold; one less is allowed
                for episodes started a step early).
            task_ids: This process's slice of the step's batch, whose groups of num_generations samples of a
                task are contiguous in the global batch.
            offset: The slice's position in the global batch: sample index and seed come from the global
                position, so they do not depend on how many learners share the batch.
        """
        import ray

        t = time.perf_counter()
        ahead, self.ahead = self.ahead, None
        if ahead is not None and (ahead.step, ahead.task_ids, ahead.offset) == (step, list(task_ids), offset):
            trajs, stats = ahead.get()
        else:
            trajs, stats = ray.get(self.pool.rollout.remote(self._requests(step, task_ids, offset)))
        self.timer.add(rollout_s=time.perf_counter() - t, generate_s=stats["generate_s"], env_s=stats["env_s"],
                       reward_s=stats["reward_s"])
        self.lost_batches = stats["lost_batches"]
        oldest = step - 1 if self.cfg.algorithm.async_rollouts else step
        stale = sorted(v for v in {tr.version for tr in trajs} if not oldest <= v <= step)
        if stale:
            raise RuntimeError(f"off-policy rollouts: worker weight versions {stale} at trainer step {step}")
        self.latest = trajs
        self.staleness = step - sum(tr.version for tr in trajs) / max(len(trajs), 1)
        return trajs

    def _requests(self, step: int, task_ids: list[str], offset: int) -> list[dict[str, Any]]:
        G = self.cfg.algorithm.num_generations
        requests = []
        for i, task_id in enumerate(task_ids):
            k = (offset + i) % G
            seed = episode_seed(step, task_id, k, self.cfg.trainer.seed)
            requests.append({"task": self.tasks_by_id[task_id], "seed": seed, "sample_index": k})
        return requests

    def start_ahead(self, step: int, task_ids: list[str], offset: int) -> None:
        """Starts playing a later step's episodes on the weights the workers hold now; `play` takes them."""
        self.ahead = _Ahead(step, list(task_ids), offset, ref=self.pool.rollout.remote(self._requests(step, task_ids, offset)))

    def finish_ahead(self) -> None:
        """Waits for the episodes started ahead (before the workers may take new weights)."""
        if self.ahead is not None:
            self.ahead.get()

    def save_ahead(self, checkpoint: Path, rank: int) -> None:
        """Keeps the episodes started ahead in a checkpoint: a run resumed from it trains on the same episodes."""
        if self.ahead is not None:
            a = self.ahead
            kept = {"step": a.step, "task_ids": a.task_ids, "offset": a.offset, "result": a.get()}
            (checkpoint / PREFETCH_FILE.format(rank=rank)).write_bytes(pickle.dumps(kept))

    def load_ahead(self, checkpoint: Path, rank: int) -> None:
        """Takes back the episodes a checkpoint kept (none kept: the step is played afresh, on-policy)."""
        path = checkpoint / PREFETCH_FILE.format(rank=rank)
        if path.is_file():
            self.ahead = _Ahead(**pickle.loads(path.read_bytes()))

    def rollout_func(self, prompts: list[str], trainer: Any) -> dict[str, list]:
        """TRL's `rollout_func`: `prompts` are task ids, each repeated num_generations times; TRL hands each
        process a contiguous slice of the global batch. In async runs, the next step's episodes start here, on
        the weights this step's learning is about to change."""
        step = trainer.state.global_step
        offset = trainer.accelerator.process_index * len(prompts)
        trajs = self.play(step, prompts, offset)
        upcoming = trainer.upcoming_prompts() if self.cfg.algorithm.async_rollouts else None
        if upcoming is not None and step + 1 < self.cfg.trainer.max_steps:
            self.start_ahead(step + 1, upcoming, offset)
        out: dict[str, list] = {
            "prompt_ids": [tr.prompt_ids for tr in trajs],
            "completion_ids": [tr.completion_ids for tr in trajs],
            "logprobs": [tr.logprobs for tr in trajs],
            "env_mask": [tr.env_mask for tr in trajs],
            "weight_version": [tr.version for tr in trajs],
        }
        for c in self.components:
            out[f"reward_{c}"] = [tr.rewards[c] for tr in trajs]
        return out

    # ---- callbacks ----------------------------------------------------------------------------------
    def callbacks(self, trainer: Any, sync_every: int = 1) -> list[TrainerCallback]:
        """The run's callbacks, for a trainer that exists: attach them with `trainer.add_callback`.

        Args:
            trainer: The learner's trainer.
            sync_every: Optimizer steps between rollouts (PPO takes several per rollout batch); the workers get
                the new weights before each rollout.
        """
        lg = self.cfg.logging
        logger = RunLogger(
            self.cfg.trainer.output_dir, lg.report_to, lg.project, lg.run_name, to_dict(self.cfg),
            step_metrics=self.step_metrics, extra_rows=self.rollout_table,
        )
        return [_SyncAndTime(self, trainer, sync_every), logger]

    def step_metrics(self) -> dict[str, float]:
        """The last finished step's timing, rollout counters and evaluation (merged into its logged row)."""
        return {**self.timer.last, "rollout/lost_batches": self.lost_batches, "rollout/staleness": self.staleness,
                **self.last_eval}

    # ---- evaluation during training ----------------------------------------------------------------
    def evaluate(self, step: int) -> dict[str, float]:
        """Greedy episodes of every evaluation task on the pool, which holds the weights of `step`.

        Training rollouts are seeded by step and never see these episodes, so the step stays on-policy.

        Returns:
            `eval/<entry>/<metric>` for each entry of `eval.tasks` (rl.eval.evaluate's verdicts and rewards).
        """
        import ray

        from rl.config.stages import EVAL_METRICS
        from rl.eval.evaluate import aggregate, task_row

        entries = [(entry, t) for entry, tasks in self.eval_tasks.items() for t in tasks]
        trajs, _ = ray.get(self.pool.rollout.remote([{"task": t, "seed": None, "sample_index": 0} for _, t in entries]))
        stale = sorted({tr.version for tr in trajs} - {step})
        if stale:
            raise RuntimeError(f"evaluation on weight versions {stale} at trainer step {step}")
        out: dict[str, float] = {}
        for entry in self.eval_tasks:
            bench = "toolgym" if entry == "toolgym" else "bfcl"
            rows = [task_row(t, tr, bench) for (e, t), tr in zip(entries, trajs, strict=True) if e == entry]
            overall = aggregate(rows, bench)["overall"]
            out.update({f"eval/{entry}/{m}": float(overall[m]) for m in EVAL_METRICS[bench]})
        return out

    def rollout_table(self, step: int) -> dict[str, Any]:
        """A W&B table of the latest step's episodes (task, transcript, reward components), every N steps."""
        every = self.cfg.logging.rollout_table_every
        if not self.latest or every <= 0 or step % every:
            return {}
        import wandb

        table = wandb.Table(columns=["task_id", "sample", "version", "transcript", "total", *self.components])
        for tr in self.latest:
            transcript = "\n".join(f"[{m['role']}] {m['content']}" for m in tr.episode.messages)
            table.add_data(tr.task_id, tr.sample_index, tr.version, transcript, tr.rewards["total"],
                           *[tr.rewards[c] for c in self.components])
        return {"rollouts": table}

    # ---- weight sync --------------------------------------------------------------------------------
    def sync_weights(self, trainer: Any, step: int) -> None:
        """Sends the policy's trainable weights to every rollout worker, tagged with `step`.

        LoRA runs send the adapter only; full fine-tuning sends every weight. Under ZeRO-3 the parameters are
        partitioned, so every rank joins the gather and rank 0 sends. All ranks wait at a barrier, so no rank
        starts the next rollout before the workers hold the new version.
        """
        import ray

        model = self.policy_of(trainer.accelerator.unwrap_model(trainer.model))
        with _gathered(trainer, model):
            if trainer.is_world_process_zero():
                weights = _trainable_state(model, self.cfg.model.lora is not None)
                ray.get(self.pool.sync_weights.remote([ray.put(weights)], step))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()


class _SyncAndTime(TrainerCallback):
    """Starts the step's timer; at the step's end, syncs the new weights to the workers when a rollout comes
    next, evaluates them when `eval.every_n_steps` says so, then closes the timer (so the sync and the
    evaluation are inside the step's time)."""

    def __init__(self, bridge: RolloutBridge, trainer: Any, sync_every: int) -> None:
        self.bridge = bridge
        self.trainer = trainer
        self.sync_every = sync_every

    def on_train_begin(self, args, state, control, **kw):
        self.bridge.sync_weights(self.trainer, state.global_step)  # a resumed run's workers start from its weights
        if state.global_step and self.bridge.cfg.algorithm.async_rollouts:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self.bridge.load_ahead(checkpoint, self.trainer.accelerator.process_index)

    def on_step_begin(self, args, state, control, **kw):
        self.bridge.timer.start_step()
        self.bridge.last_eval = {}

    def on_step_end(self, args, state, control, **kw):
        t = time.perf_counter()
        self.bridge.finish_ahead()  # the workers finish the next step's episodes on the weights that started them
        self.bridge.timer.add(rollout_s=time.perf_counter() - t)
        if state.global_step % self.sync_every == 0:
            t = time.perf_counter()
            self.bridge.sync_weights(self.trainer, state.global_step)
            self.bridge.timer.add(sync_s=time.perf_counter() - t)
        every = self.bridge.cfg.eval.every_n_steps
        if every and state.global_step % every == 0:  # a multiple of sync_every (config check): fresh weights
            t = time.perf_counter()
            self._evaluate(args, state, control)
            self.bridge.timer.add(eval_s=time.perf_counter() - t)
        self.bridge.timer.finish_step()

    def _evaluate(self, args, state, control) -> None:
        """Rank 0 evaluates; every rank gets the figures, records a new best step in the trainer state and saves
        it (HF then names its checkpoint `best_model_checkpoint` and keeps it from rotation)."""
        figures = [self.bridge.evaluate(state.global_step) if state.is_world_process_zero else None]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast_object_list(figures, src=0)
        self.bridge.last_eval = figures[0]
        value = figures[0][f"eval/{self.bridge.cfg.eval.metric}"]
        if state.best_metric is None or value > state.best_metric:
            state.best_metric, state.best_global_step = value, state.global_step
            control.should_save = True

    def on_save(self, args, state, control, **kw):
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():
            self.bridge.save_ahead(checkpoint, self.trainer.accelerator.process_index)


def _trainable_state(model: torch.nn.Module, lora: bool) -> dict[str, torch.Tensor]:
    if lora:
        from peft import get_peft_model_state_dict

        sd = get_peft_model_state_dict(model)
    else:
        sd = model.state_dict()
    return {k: v.detach().to("cpu", copy=True) for k, v in sd.items()}


class _gathered:
    """Gathers ZeRO-3 partitioned parameters for reading (a no-op otherwise)."""

    def __init__(self, trainer: Any, model: torch.nn.Module) -> None:
        self.ctx = None
        ds = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
        if ds is not None and ds.zero_stage == 3:
            import deepspeed

            params = [p for p in model.parameters() if p.requires_grad] or list(model.parameters())
            self.ctx = deepspeed.zero.GatheredParameters(params, modifier_rank=None)

    def __enter__(self):
        return self.ctx.__enter__() if self.ctx else None

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc) if self.ctx else False
