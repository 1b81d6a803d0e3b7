"""Benchmark of the rollout path (run with `python launch/bench.py rollout`; prints `run()` as JSON).

Every speed figure is a ratio against a baseline measured in the same run, in alternating rounds, with the
median reported, because this machine is noisy. Tokens/s always means *policy tokens generated per second
of wall time* (environment tokens are not counted; the wall time includes everything the caller waits for).

1. `pool_throughput`: the Ray RolloutPool (1 and 2 workers) against plain `model.generate` in this process,
   on the same batch of single-round tasks (rollout.max_turns=1, so an episode is one assistant message).
   Both sides decode *greedily* with the same stop tokens and the same max_new_tokens, so they produce the
   same tokens (checked: `same_tokens`) and do the same work; the pool's time also includes what the pool
   adds: Ray calls, chat rendering, parsing, the env step and reward scoring. Cores: the machine has 2, so
   the baseline runs with 2 torch threads, the 1-worker pool with one worker of 2 threads (the same cores),
   and the 2-worker pool with two workers of 1 thread each (the same cores, split). The pools run LoRA
   policies (the training setup) after one weight sync, so they generate on merged weights; the synced
   adapter is PEFT's fresh one (B = 0), so the merged weights equal the baseline's.
   Goal: overhead <= 10%, i.e. pool tokens/s >= 0.9 x baseline.
2. `lockstep`: multi-turn episodes (multi_step + multi_turn tasks, sampled with per-episode seeds, with
   the episode limits of configs/demo.yaml: max_new_tokens=64, max_turns=2) played as one lockstep batch of
   16 by `EpisodeRunner.run`, against the same episodes played one at a time (KV reuse on in both).
   Per-episode RNG makes both play exactly the same tokens (checked: `same_episodes`). Goal: >= 3x.
   `kv_reuse`: the same lockstep batch with per-episode KV reuse across rounds on and off (alternated:
   on, off, on), with the prefill tokens each way.
3. `weight_sync`: round trip of `pool.sync_weights.remote([ray.put(lora_state_dict)], version)` to the
   2-worker pool of (1), after its throughput runs (put, send, then on each worker: load the adapter and swap
   the merged delta, `HFEngine.set_weights`), median of several. Goal: <= 0.5 s.
4. `demo_shaped_pool`: the 2-worker pool of (1) (one thread each) on the demo's rollout shapes: 32 episodes of
   the demo's single-round categories, sampled at its temperature (0.7) with per-episode seeds, max_new_tokens=64.
   `flop_bound_tok_s` divides the fp32 matmul peak of this machine (a 1024^3 matmul probe on 2 threads, in the
   same run) by the flops of one token (2 x parameters): the rate if every flop went to generated tokens.
   The prompt tokens cost the same flops each, so `flop_bound_with_prefill_tok_s` charges each generated
   token its share of the prefill as well.
5. `tool_loop`: multi-turn tool episodes per second of `EpisodeRunner.run` against TRL's own tool loop
   (`GRPOTrainer` with `environment_factory`), on a native-format fine-tune of SmolLM2; launch/benchmarks/tool_loop.py
   says exactly what TRL is given. Goal: `vs_trl_tool_loop` >= 1.5.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

import torch

PROMPT_CATEGORIES = ["simple", "multiple", "parallel"]  # single user turn: with max_turns=1, one round
EPISODE_CATEGORIES = ["multi_step", "multi_turn"]
DEMO_CATEGORIES = ["simple", "multiple", "parallel", "parallel_multiple", "irrelevance", "missing_param"]
DEMO_TEMPERATURE = 0.7  # configs/demo.yaml's rollout.temperature


def _cfg(model_name: str, *overrides: str) -> Any:
    from rl.config import load_config

    return load_config(None, [f"model.name_or_path={model_name}", "format.tool_style=compact", *overrides])


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


# ---- 1. Ray pool vs plain generate ------------------------------------------------------------------------
def _baseline_generate(
    model: Any, tok: Any, prompts: list[list[int]], stop_ids: list[int], max_new_tokens: int,
    temperature: float | None = None,
) -> tuple[float, list[list[int]]]:
    """Plain `model.generate` on the left-padded batch, on the model's device: greedy, or sampled at `temperature`
    (no top-k or top-p) from its global RNG.

    Returns:
        Seconds taken, and per row the generated ids up to and including the first stop token.
    """
    dev = model.device
    L = max(map(len, prompts))
    input_ids = torch.full((len(prompts), L), tok.pad_token_id, dtype=torch.long)  # [B, L] left-padded
    attn = torch.zeros((len(prompts), L), dtype=torch.long)  # [B, L]
    for i, p in enumerate(prompts):
        input_ids[i, L - len(p) :] = torch.tensor(p)
        attn[i, L - len(p) :] = 1
    input_ids, attn = input_ids.to(dev), attn.to(dev)
    sampling = {"do_sample": False} if temperature is None else {"do_sample": True, "temperature": temperature,
                                                                 "top_p": 1.0, "top_k": 0}
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attn,
            max_new_tokens=max_new_tokens,
            eos_token_id=stop_ids,
            pad_token_id=tok.pad_token_id,
            **sampling,
        )
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    rows = []
    for row in out[:, L:].tolist():
        # Keep the stop token, as episodes do; rows that stopped early are padded after it.
        cut = next((k + 1 for k, x in enumerate(row) if x in stop_ids), len(row))
        rows.append(row[:cut])
    return seconds, rows


def bench_pool(
    model_name: str = "smollm2-135m",
    batch: int = 8,
    max_new_tokens: int = 64,
    repeats: int = 3,
    sync_repeats: int = 7,
    total_threads: int = 2,
    worker_counts: tuple[int, ...] = (1, 2),
    demo_batch: int = 32,
) -> dict[str, Any]:
    """Tokens/s of the RolloutPool with each of `worker_counts` workers against plain `generate` on the same
    batch, then the 2-worker pool's weight-sync latency and its rate on `demo_batch` demo-shaped episodes (see
    module doc; `worker_counts` must hold 2). Needs `ray.init` first."""
    import ray

    import envs.tasks
    from rl.checkpoint import load_policy
    from rl.rollout.chat import ChatRenderer
    from rl.rollout.pool import RolloutPool
    from rl.rollout.setup import RolloutSetup

    # Seeded requests sample at the demo's temperature; the unseeded ones compared with `generate` are greedy.
    base = ["rollout.max_turns=1", f"rollout.max_new_tokens={max_new_tokens}",
            f"rollout.temperature={DEMO_TEMPERATURE}"]
    cfg = _cfg(model_name, *base)
    model, tok = load_policy(model_name)
    renderer = ChatRenderer.for_format(tok, cfg.format)
    tasks = envs.tasks.generate(batch, "train", seed=0, categories=PROMPT_CATEGORIES)
    prompts = [renderer.prompt_ids(renderer.initial_messages(t), t.tools) for t in tasks]
    requests = [{"task": t, "seed": None, "sample_index": 0} for t in tasks]  # seed None: greedy

    threads = torch.get_num_threads()
    torch.set_num_threads(total_threads)
    _baseline_generate(model, tok, prompts[:1], renderer.stop_token_ids, 4)  # warm-up
    out: dict[str, Any] = {
        "batch": batch,
        "max_new_tokens": max_new_tokens,
        "mean_prompt_tokens": sum(map(len, prompts)) / len(prompts),
    }
    base_rates: list[float] = []
    try:
        for workers in worker_counts:
            threads_per_worker = total_threads // workers
            pool_cfg = _cfg(
                model_name,
                *base,
                f"rollout.num_workers={workers}",
                f"rollout.torch_threads={threads_per_worker}",
                f"rollout.cpus_per_worker={threads_per_worker}",
            )
            pool = RolloutPool.remote(RolloutSetup.of(pool_cfg, lora=pool_cfg.model.lora))
            ray.get(pool.ready.remote())
            lora_state = _fresh_lora_state(model_name, pool_cfg)
            # One sync first: generation then runs on merged LoRA weights, as it does during training.
            ray.get(pool.sync_weights.remote([ray.put(lora_state)], 1))
            ray.get(pool.rollout.remote(requests[:workers]))  # warm-up (lazy imports, first forward)
            pool_rates, pairs, same = [], [], True
            stop_ids = renderer.stop_token_ids
            # Alternate baseline and pool (the order swapped each time); report the median of the pair ratios.
            for k in range(repeats):
                for side in ("base", "pool") if k % 2 == 0 else ("pool", "base"):
                    if side == "base":
                        b_s, b_rows = _baseline_generate(model, tok, prompts, stop_ids, max_new_tokens)
                        b_rate = sum(map(len, b_rows)) / b_s
                    else:
                        t = time.perf_counter()
                        trajs, stats = ray.get(pool.rollout.remote(requests))
                        p_rate = stats["policy_tokens"] / (time.perf_counter() - t)
                same &= [tr.completion_ids for tr in trajs] == b_rows
                base_rates.append(b_rate)
                pool_rates.append(p_rate)
                pairs.append(p_rate / b_rate)
            out[f"pool_{workers}w"] = {
                "workers": workers,
                "torch_threads_per_worker": threads_per_worker,
                "tokens_per_s": _median(pool_rates),
                "tokens_per_s_runs": pool_rates,
                "ratio_vs_generate": _median(pairs),
                "overhead_pct": 100 * (1 - _median(pairs)),
                "goal_overhead_pct": "<= 10",
                "same_tokens": same,
            }
            if workers == 2:
                sync = _weight_sync(pool, lora_state, workers, repeats=sync_repeats, first_version=2)
                sync["lora_r"] = pool_cfg.model.lora.r
                demo = _demo_shaped(pool, model, demo_batch, repeats=2 if repeats > 1 else 1, threads=total_threads)
            ray.kill(pool)  # its workers share its fate
    finally:
        torch.set_num_threads(threads)
    out["generate"] = {
        "tokens_per_s": _median(base_rates),
        "tokens_per_s_runs": base_rates,
        "torch_threads": total_threads,
    }
    out["unit"] = "policy tokens generated per second of wall time"
    return {"pool_throughput": out, "weight_sync": sync, "demo_shaped_pool": demo}


def _fresh_lora_state(model_name: str, cfg: Any) -> dict[str, torch.Tensor]:
    """The adapter weights a learner would send: PEFT's fresh LoRA (B = 0, so merged weights = base weights)."""
    from peft import get_peft_model_state_dict

    from rl.checkpoint import load_policy

    model, _ = load_policy(model_name, lora=cfg.model.lora)
    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}


# ---- 2. lockstep batching vs episode by episode, KV reuse on/off --------------------------------------------
def bench_lockstep(
    model_name: str = "smollm2-135m",
    episodes: int = 16,
    max_new_tokens: int = 64,
    max_turns: int = 2,
    runs: int = 3,
    threads: int = 2,
) -> dict[str, Any]:
    """Multi-turn episodes: one lockstep batch vs one at a time; and KV reuse on vs off (see module doc)."""
    import envs.tasks
    from rl.checkpoint import load_policy
    from rl.rollout.episodes import episode_seed
    from rl.rollout.setup import RolloutSetup, build_runner

    limits = [f"rollout.max_new_tokens={max_new_tokens}", f"rollout.max_turns={max_turns}"]
    cfg = _cfg(model_name, "model.lora=null", *limits)
    model, tok = load_policy(model_name)
    runner = build_runner(RolloutSetup.of(cfg), model, tok)
    engine = runner.engine
    tasks = envs.tasks.generate(episodes, "train", seed=0, categories=EPISODE_CATEGORIES)
    seeds = [episode_seed(0, t.id, 0) for t in tasks]

    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        runner.run(tasks[:1], seeds[:1])  # warm-up

        def lockstep(reuse: bool) -> tuple[float, list, dict[str, int]]:
            engine.reuse_kv = reuse
            before = (engine.reused_tokens, engine.prefilled_tokens)
            t = time.perf_counter()
            trajs, _ = runner.run(tasks, seeds)
            seconds = time.perf_counter() - t
            counts = {
                "reused": engine.reused_tokens - before[0],
                "prefilled": engine.prefilled_tokens - before[1],
            }
            return seconds, trajs, counts

        on_s, off_s = [], []
        for k in range(runs):  # alternate reuse on / off, starting and ending with on (on, off, on, ...)
            if k % 2 == 0:
                s, trajs, on_counts = lockstep(True)
                on_s.append(s)
            else:
                s, trajs_off, off_counts = lockstep(False)
                off_s.append(s)
        engine.reuse_kv = True
        t = time.perf_counter()
        singles = [runner.run([task], [seed])[0][0] for task, seed in zip(tasks, seeds, strict=True)]
        single_s = time.perf_counter() - t
    finally:
        torch.set_num_threads(saved_threads)
        engine.reuse_kv = True

    policy_tokens = sum(sum(tr.env_mask) for tr in trajs)
    rounds = [len(tr.episode.steps) for tr in trajs]
    lock_s = _median(on_s)
    return {
        "episodes": episodes,
        "max_new_tokens": max_new_tokens,
        "max_turns": max_turns,
        "categories": EPISODE_CATEGORIES,
        "policy_tokens": policy_tokens,
        "rounds_mean": sum(rounds) / len(rounds),
        "rounds_max": max(rounds),
        "torch_threads": threads,
        "lockstep_s": lock_s,
        "one_by_one_s": single_s,
        "lockstep_tokens_per_s": policy_tokens / lock_s,
        "one_by_one_tokens_per_s": policy_tokens / single_s,
        "ratio": single_s / lock_s,
        "goal_ratio": ">= 3",
        "same_episodes": [tr.completion_ids for tr in singles] == [tr.completion_ids for tr in trajs],
        "kv_reuse": {
            "on_s": lock_s,
            "off_s": _median(off_s),
            "on_s_runs": on_s,
            "off_s_runs": off_s,
            "speedup": _median(off_s) / lock_s,
            "prefill_tokens_on": on_counts["prefilled"],
            "prefill_tokens_reused_on": on_counts["reused"],
            "prefill_tokens_off": off_counts["prefilled"],
            "same_episodes": [tr.completion_ids for tr in trajs_off] == [tr.completion_ids for tr in trajs],
        },
    }


# ---- 3. LoRA weight sync ----------------------------------------------------------------------------------------
def _weight_sync(
    pool: Any, state: dict[str, torch.Tensor], workers: int, repeats: int, first_version: int
) -> dict[str, Any]:
    """Round trips of `sync_weights` (put, send, load and swap the merged delta on every worker); see module doc."""
    import ray

    round_trips, pool_side = [], []
    versions = range(first_version, first_version + repeats)
    for version in versions:
        t = time.perf_counter()
        inner = ray.get(pool.sync_weights.remote([ray.put(state)], version))
        round_trips.append(time.perf_counter() - t)
        pool_side.append(inner)
    return {
        "workers": workers,
        "payload_mb": sum(v.numel() * v.element_size() for v in state.values()) / 2**20,
        "tensors": len(state),
        "round_trip_s": _median(round_trips),
        "round_trip_s_runs": round_trips,
        "pool_side_s": _median(pool_side),
        "goal_s": "<= 0.5",
        "workers_at_latest_version": ray.get(pool.stats.remote())["worker_versions"] == [versions[-1]] * workers,
    }


# ---- 4. the pool at the demo's shapes against the machine's flop bound --------------------------------------


def matmul_peak_gflops(threads: int = 2, n: int = 1024, repeats: int = 7) -> float:
    """fp32 GFLOP/s of an n x n x n matmul on `threads` threads (median of `repeats`, after a warm-up)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(saved)
    return 2 * n**3 / _median(times) / 1e9


def _demo_shaped(pool: Any, model: torch.nn.Module, batch: int, repeats: int, threads: int) -> dict[str, Any]:
    """Tokens/s of the 2-worker pool on the demo's rollout shapes, against the flop bound (see module doc)."""
    import ray

    import envs.tasks
    from rl.rollout.episodes import episode_seed

    tasks = envs.tasks.generate(batch, "train", seed=0, categories=DEMO_CATEGORIES)
    requests = [{"task": t, "seed": episode_seed(0, t.id, 0), "sample_index": 0} for t in tasks]
    rates, prompt_tokens, generated = [], 0, 0
    for _ in range(repeats):
        t = time.perf_counter()
        trajs, stats = ray.get(pool.rollout.remote(requests))
        rates.append(stats["policy_tokens"] / (time.perf_counter() - t))
        generated = stats["policy_tokens"]
        prompt_tokens = sum(len(tr.prompt_ids) for tr in trajs)  # one round: the whole context
    flops_per_token = 2 * sum(p.numel() for p in model.parameters())  # one forward: a multiply-add per weight
    peak = matmul_peak_gflops(threads)
    bound = peak * 1e9 / flops_per_token
    bound_with_prefill = bound * generated / (generated + prompt_tokens)
    pool_rate = _median(rates)
    return {
        "episodes": batch,
        "categories": DEMO_CATEGORIES,
        "temperature": DEMO_TEMPERATURE,
        "prompt_tokens": prompt_tokens,
        "generated_tokens": generated,
        "matmul_peak_gflops": peak,
        "flop_bound_tok_s": bound,
        "flop_bound_with_prefill_tok_s": bound_with_prefill,
        "pool_tok_s": pool_rate,
        "pool_tok_s_runs": rates,
        "pool_vs_flop_bound": pool_rate / bound,
        "pool_vs_flop_bound_with_prefill": pool_rate / bound_with_prefill,
    }


def run(model_name: str = "smollm2-135m", quick: bool = False) -> dict[str, Any]:
    """All five benchmarks; `quick` shrinks the sizes (for tests on tiny-random: the tool loop then runs the
    untrained model, which never calls)."""
    import ray

    from launch.benchmarks import tool_loop
    from rl.ray_utils import start_local_ray

    t0 = time.perf_counter()
    load_start = os.getloadavg()[0]
    if quick:
        lock = bench_lockstep(model_name, episodes=4, max_new_tokens=4, runs=2)
    else:
        lock = bench_lockstep(model_name)
    started_ray = not ray.is_initialized()
    if started_ray:
        start_local_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        if quick:
            # The 2-worker pool only: it shards, syncs and must decode what plain generate decodes.
            pool = bench_pool(model_name, batch=2, max_new_tokens=4, repeats=1, sync_repeats=2, worker_counts=(2,),
                              demo_batch=4)
        else:
            pool = bench_pool(model_name)
    finally:
        if started_ray:
            ray.shutdown()
    if quick:
        loop = tool_loop.run(model_name, episodes=2, rounds=1, threads=1)
    else:
        loop = tool_loop.run()
    return {
        # The acceptance figures of the throughput goals, each measured in this run (details below).
        "flop_bound_tok_s": pool["demo_shaped_pool"]["flop_bound_tok_s"],
        "pool_tok_s": pool["demo_shaped_pool"]["pool_tok_s"],
        "pool_vs_flop_bound": pool["demo_shaped_pool"]["pool_vs_flop_bound"],
        "lockstep_vs_sequential": lock["ratio"],
        "lora_sync_s": pool["weight_sync"]["round_trip_s"],
        "vs_trl_tool_loop": loop["vs_trl_tool_loop"],
        "tool_loops_entered": loop["tool_loops_entered"],  # False: no side called a tool; the ratio says nothing
        "model": model_name,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "load_avg_1m_start": load_start,  # > 0.5 or so: something else ran; the ratios still compare like with like
            "load_avg_1m_end": os.getloadavg()[0],
        },
        **pool,
        "lockstep": lock,
        "tool_loop": loop,
        "total_s": time.perf_counter() - t0,
    }
