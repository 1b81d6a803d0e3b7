"""GPU check (`python launch/bench.py gpu`): the rollout engine and the learner on one CUDA device, in bfloat16.

Every part runs in its own spawned process, so a crash or an out-of-memory in one leaves the others' figures,
and each DeepSpeed run gets a fresh distributed state. Parts:

1. `engine/<shape>/<n>`: n episodes of the demo's six categories with its rollout settings (configs/demo.yaml:
   temperature 0.7, per-episode seeds, max_new_tokens 64, max_turns 2) through `EpisodeRunner` + `HFEngine`,
   timed twice; `same_episodes` says whether the second pass played the same tokens. Two greedy passes of the
   same episodes follow: `sampled_vs_greedy` prices the sampler. The baseline, measured in the same process, is
   plain `model.generate` sampling the same first-round prompts (left-padded, same max_new_tokens):
   `vs_generate` is our sampled policy tokens/s over its generated tokens/s. The `/deterministic` part runs
   under `torch.use_deterministic_algorithms`.
   `logprob_gap`: mean |engine logprob - learner logprob| per policy token, the learner's forward being the
   same bf16 model over the whole sequence with logits / temperature, as TRL computes it.
2. `learner/<shape>/zero<k>`: `ToolGRPOTrainer` (TRL's loss, our length-grouped micro-batches and labelled-only
   LM head) under DeepSpeed ZeRO-k (configs/deepspeed/zero<k>.json) on NCCL, bf16, one process: `STEPS`
   optimizer steps on launch/benchmarks/learner.py's demo-shaped rollouts (16 episodes), with the demo's LoRA.
   Step seconds, real tokens/s, the loss and grad norm TRL logs, peak GPU memory, and the adapter's |B| after
   training (0 before: PEFT starts B at zero, so a positive value means the optimizer moved it).

Shapes are real architectures with random weights (seeded), with SmolLM2's tokenizer: `smollm2-1.7b` is
SmolLM2-1.7B's config and `llama3-8b` Llama-3-8B's layers with SmolLM2's vocabulary (the size of
configs/cluster_toolace8b.yaml's policy). Random weights give near-uniform next-token distributions, so replies
run to max_new_tokens and the logprob gap is not a trained model's: the figures are speed, memory and whether
the GPU paths run, not reply quality. Ray is not used: the engine and the learner are what run on the GPU, and
the Ray layer above them differs on a GPU only in `rollout.gpus_per_worker` and the NCCL backend that
rl/train/run.py passes to Ray Train.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
STEPS = 4
# The parts are written for CUDA; on a CPU they run too (slowly, gloo instead of NCCL), which is how their
# wiring is checked before spending GPU time. `run` itself refuses a machine without CUDA.
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SHAPES = {
    "smollm2-1.7b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32,
                         num_key_value_heads=32, rope_theta=130000.0, tie_word_embeddings=True),
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=8, rope_theta=500000.0, tie_word_embeddings=False),
}


def _random_model(shape: dict[str, Any], tok: Any) -> Any:
    """A seeded random-weight Llama of `shape` (LlamaConfig fields), built on the device in bfloat16."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(vocab_size=len(tok), max_position_embeddings=8192, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **shape)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _peak_gib() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if DEVICE == "cuda" else None


def _tokenizer(tokenizer_dir: str) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def _demo_cfg() -> Any:
    from rl.config import load_config

    return load_config(ROOT / "configs" / "demo.yaml", stage="rl")


# ---- 1. the engine -------------------------------------------------------------------------------------------
def engine_part(shape: dict[str, Any], tokenizer_dir: str, episodes: int, deterministic: bool = False) -> dict[str, Any]:
    import envs.tasks
    from launch.benchmarks.rollout import DEMO_CATEGORIES, _baseline_generate
    from rl.rollout.episodes import episode_seed
    from rl.rollout.setup import RolloutSetup, build_runner, use_deterministic_kernels

    if deterministic:
        use_deterministic_kernels()
    cfg = _demo_cfg()
    tok = _tokenizer(tokenizer_dir)
    model = _random_model(shape, tok)
    runner = build_runner(RolloutSetup.of(cfg), model, tok)
    T, max_new = cfg.rollout.temperature, cfg.rollout.max_new_tokens
    tasks = envs.tasks.generate(episodes, "train", seed=0, categories=DEMO_CATEGORIES)
    seeds = [episode_seed(0, t.id, 0) for t in tasks]

    def timed_run(seeds: list[int | None]) -> tuple[float, list]:
        _sync()
        t = time.perf_counter()
        trajs, _ = runner.run(tasks, seeds, temperature=T)
        _sync()
        return time.perf_counter() - t, trajs

    def tokens(trajs: list) -> int:
        return sum(sum(tr.env_mask) for tr in trajs)

    runner.run(tasks[:4], seeds[:4], temperature=T)  # warm-up: kernels, allocator
    first_s, trajs = timed_run(seeds)
    second_s, again = timed_run(seeds)
    policy_tokens = tokens(trajs)
    sampled_rate = policy_tokens / min(first_s, second_s)
    # Greedy passes of the same episodes: no per-row noise is drawn, so the rate difference is the sampler's.
    greedy = [timed_run([None] * len(tasks)) for _ in range(2)]
    greedy_rate = tokens(greedy[0][1]) / min(s for s, _ in greedy)

    # Baseline: plain generate, sampling the same first-round prompts to the same budget.
    generate_s, generated_rows = _baseline_generate(model, tok, [tr.prompt_ids for tr in trajs],
                                                    runner.renderer.stop_token_ids, max_new, temperature=T)
    generated = sum(map(len, generated_rows))

    # Engine vs learner logprobs on the policy tokens of the first 16 episodes.
    gaps = []
    with torch.inference_mode():
        for tr in trajs[:16]:
            seq = torch.tensor(tr.prompt_ids + tr.completion_ids, device=DEVICE)[None]  # [1, P+C]
            logits = model(seq).logits[0, len(tr.prompt_ids) - 1 : -1].float() / T  # [C, V]
            lp = torch.log_softmax(logits, -1).gather(-1, seq[0, len(tr.prompt_ids):, None]).squeeze(-1)  # [C]
            mask = torch.tensor(tr.env_mask, device=DEVICE, dtype=torch.bool)  # [C]
            gaps.append((lp - torch.tensor(tr.logprobs, device=DEVICE))[mask].abs())
    gap = torch.cat(gaps)
    return {
        "episodes": episodes,
        "policy_tokens": policy_tokens,
        "seconds": [round(first_s, 3), round(second_s, 3)],
        "episodes_per_s": round(episodes / min(first_s, second_s), 2),
        "policy_tokens_per_s": round(sampled_rate, 1),
        "same_episodes": [tr.completion_ids for tr in trajs] == [tr.completion_ids for tr in again],
        "same_episodes_count": sum(a.completion_ids == b.completion_ids for a, b in zip(trajs, again, strict=True)),
        "greedy_tokens_per_s": round(greedy_rate, 1),
        "same_greedy_episodes": [tr.completion_ids for tr in greedy[0][1]] == [tr.completion_ids for tr in greedy[1][1]],
        "sampled_vs_greedy": round(sampled_rate / greedy_rate, 2),
        "deterministic_algorithms": deterministic,
        "generate_baseline": {"seconds": round(generate_s, 3), "tokens": generated,
                              "tokens_per_s": round(generated / generate_s, 1)},
        "vs_generate": round(sampled_rate / (generated / generate_s), 2),
        "logprob_gap": {"mean_abs": float(gap.mean()), "max_abs": float(gap.max()), "tokens": int(gap.numel())},
        "peak_gpu_gib": _peak_gib(),
    }


# ---- 2. the learner ------------------------------------------------------------------------------------------
def learner_part(shape: dict[str, Any], tokenizer_dir: str, zero_stage: int) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig

    from launch.benchmarks.learner import GENERATIONS, TASKS, _demo_shaped_rollouts
    from rl.models import peft_lora_config
    from rl.train.bridge import ComponentReward
    from rl.train.deepspeed_setup import skip_inference_allreduce_op
    from rl.train.grpo import ToolGRPOTrainer
    from rl.train.lm_head import labelled_positions_only

    # One process is the whole world. The group is started here, as Ray Train starts it for a run's learners
    # (rl/train/run.py), so that DeepSpeed and accelerate join it rather than choose a backend themselves.
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + zero_stage), RANK="0", LOCAL_RANK="0",
                      WORLD_SIZE="1")
    torch.distributed.init_process_group("nccl" if DEVICE == "cuda" else "gloo", rank=0, world_size=1)
    skip_inference_allreduce_op()
    cfg = _demo_cfg()
    tok = _tokenizer(tokenizer_dir)
    model = _random_model(shape, tok)
    rollouts = _demo_shaped_rollouts()
    ds_config = json.loads((ROOT / "configs" / "deepspeed" / f"zero{zero_stage}.json").read_text())
    args = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="gpu-learner-"), per_device_train_batch_size=TASKS * GENERATIONS,
        num_generations=GENERATIONS, max_steps=STEPS, bf16=True, use_cpu=DEVICE == "cpu", deepspeed=ds_config,
        report_to=[], save_strategy="no", logging_steps=1, beta=0.0, loss_type="dapo", remove_unused_columns=False,
        gradient_checkpointing=False, max_completion_length=768, learning_rate=cfg.algorithm.learning_rate,
        lr_scheduler_type="constant", disable_tqdm=True,
    )
    trainer = ToolGRPOTrainer(
        model=model, processing_class=tok, reward_funcs=[ComponentReward("ast")], args=args,
        train_dataset=Dataset.from_list([{"prompt": f"t{i}"} for i in range(TASKS)]),
        rollout_func=lambda prompts, trainer: rollouts, peft_config=peft_lora_config(cfg.model.lora, model),
    )

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            _sync()
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            _sync()
            self.seconds.append(time.perf_counter() - self.t)

    clock = StepClock()
    trainer.add_callback(clock)
    with labelled_positions_only():
        trainer.train()

    import deepspeed

    lora_b = [p for n, p in trainer.model_wrapped.module.named_parameters() if "lora_B" in n]
    with deepspeed.zero.GatheredParameters(lora_b, enabled=zero_stage == 3):
        lora_b_abs = float(sum(p.detach().float().abs().sum() for p in lora_b))
    real = sum(len(p) + len(c) for p, c in zip(rollouts["prompt_ids"], rollouts["completion_ids"], strict=True))
    logs = [h for h in trainer.state.log_history if "loss" in h]
    steady = statistics.median(clock.seconds[1:]) if len(clock.seconds) > 1 else clock.seconds[0]
    return {
        "backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
        "zero_stage": trainer.accelerator.state.deepspeed_plugin.zero_stage,
        "bf16": args.bf16,
        "steps": len(clock.seconds),
        "step_seconds": [round(s, 3) for s in clock.seconds],
        "real_tokens_per_step": real,
        "real_tokens_per_s": round(real / steady, 1),
        "loss": [h["loss"] for h in logs],
        "grad_norm": [h.get("grad_norm") for h in logs],
        "lora_B_abs_sum_after": lora_b_abs,
        "trainable_params": sum(getattr(p, "ds_numel", p.numel()) for p in trainer.model.parameters() if p.requires_grad),
        "peak_gpu_gib": _peak_gib(),
    }


# ---- running the parts -----------------------------------------------------------------------------------------
def _child(queue: Any, fn: Any, args: tuple) -> None:
    try:
        queue.put(fn(*args))
    except BaseException:  # the figure of a failed part is its traceback
        queue.put({"error": traceback.format_exc(limit=-8)})


def _isolated(fn: Any, *args: Any, timeout_s: float = 150) -> dict[str, Any]:
    """`fn(*args)` in a spawned process, with its wall time; a crash or a timeout comes back as `error`."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    t = time.perf_counter()
    proc.start()
    try:
        result = queue.get(timeout=timeout_s)
    except Exception:
        result = {"error": f"no result within {timeout_s} s (exit code {proc.exitcode})"}
    proc.join(10)
    if proc.is_alive():
        proc.kill()
    result["wall_s"] = round(time.perf_counter() - t, 1)
    return result


def run(tokenizer_dir: str | None = None, out: str | None = None, only: list[str] | None = None) -> dict[str, Any]:
    """Runs every part in turn (see module doc).

    Args:
        tokenizer_dir: SmolLM2's tokenizer files; by default the converted smollm2-135m under $TOOLGYM_CACHE.
        out: A JSON file rewritten after every part, so a killed run keeps what finished.
        only: Run only the parts whose names start with one of these.
    """
    if not torch.cuda.is_available():
        return {"error": "no CUDA device: this benchmark runs on a GPU machine only"}
    if tokenizer_dir is None:
        from rl.models import resolve

        tokenizer_dir = str(resolve("smollm2-135m", allow_download=False))
    parts = [
        ("engine/smollm2-1.7b/64", engine_part, (SHAPES["smollm2-1.7b"], tokenizer_dir, 64)),
        ("learner/smollm2-1.7b/zero2", learner_part, (SHAPES["smollm2-1.7b"], tokenizer_dir, 2)),
        ("engine/smollm2-1.7b/256", engine_part, (SHAPES["smollm2-1.7b"], tokenizer_dir, 256)),
        ("learner/llama3-8b/zero2", learner_part, (SHAPES["llama3-8b"], tokenizer_dir, 2)),
        ("engine/llama3-8b/64", engine_part, (SHAPES["llama3-8b"], tokenizer_dir, 64)),
        ("learner/smollm2-1.7b/zero3", learner_part, (SHAPES["smollm2-1.7b"], tokenizer_dir, 3)),
        ("engine/smollm2-1.7b/64/deterministic", engine_part, (SHAPES["smollm2-1.7b"], tokenizer_dir, 64, True)),
    ]
    parts = [p for p in parts if not only or p[0].startswith(tuple(only))]
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "nccl": ".".join(map(str, torch.cuda.nccl.version())),
        "bf16_supported": torch.cuda.is_bf16_supported(),
    }
    for name, fn, args in parts:
        result[name] = _isolated(fn, *args)
        if out:
            Path(out).write_text(json.dumps(result, indent=2))
    return result
