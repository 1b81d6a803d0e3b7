"""Learner benchmark (`python launch/bench.py learner`): one GRPO step's loss and backward on a demo-shaped batch.

Four ways over the same 16 episodes (4 tasks x 4 generations; prompt and completion lengths spread like the
demo's rollouts), same model and adapter: SmolLM2-135M in float32 with configs/demo.yaml's `model.lora` (r=16 on the
top 12 of 30 layers). TRL gets that adapter as a plain `peft.LoraConfig` (`layers_to_transform`), as a TRL user
would write it.

- `trl_default`: TRL's path as configured out of the box: the whole batch padded to its longest prompt and
  completion, activation checkpointing on (GRPOConfig's default). With a PEFT model that also turns on input
  gradients (`enable_input_require_grads`, in GRPOTrainer's constructor), so backward runs through every layer,
  frozen or not;
- `padded_no_checkpointing`: the same padded batch without checkpointing;
- `grouped`: 4 length-sorted micro-batches without pad columns (rl/train/batching.py), no checkpointing, so
  backward stops below the lowest adapted layer (nothing beneath it needs a gradient);
- `grouped_labelled_only`: ours, `grouped` with TRL's fused LM head projecting only the completion positions
  (rl/train/lm_head.py; TRL projects every position on CPU).

Rounds alternate the four ways and the medians are compared, so machine noise hits all of them alike. The
gradients must agree up to float32 rounding. A GRPO gradient sums terms of both signs (advantages +-1) that
largely cancel, so float32 rounding in the log-probs moves the net gradient by far more than their own
relative error. The benchmark therefore also measures that floor in the same run: TRL's own path split into 4
micro-batches (`trl_split4`, untimed) against the same batch in one piece. On tiny-random the grouped gradient
equals TRL's to 1e-6 (tests/rl/train/test_batching.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from trl.trainer.utils import split_tensor_dict

from rl.train.batching import length_grouped_microbatches
from rl.train.lm_head import labelled_positions_only

TASKS, GENERATIONS = 4, 4


def _demo_shaped_rollouts(seed: int = 0, length_scale: float = 1.0) -> dict[str, list]:
    """Token ids with the demo's length spread: prompts of 120-460 tokens (the tool list dominates), replies
    of 3-170 tokens (one call, or two turns with a tool result between); every length times `length_scale`."""
    rng = random.Random(seed)

    def n(lo: int, hi: int) -> int:
        return max(1, round(rng.randrange(lo, hi) * length_scale))

    prompts = [[rng.randrange(10, 40000) for _ in range(n(120, 460))] for _ in range(TASKS)]
    completions = [[rng.randrange(10, 40000) for _ in range(rng.choice([n(3, 40), n(40, 170)]))] for _ in range(TASKS * GENERATIONS)]
    return {
        "prompt_ids": [prompts[i // GENERATIONS] for i in range(TASKS * GENERATIONS)],
        "completion_ids": completions,
        "logprobs": [[0.0] * len(c) for c in completions],
        "env_mask": [[1] * len(c) for c in completions],
        "reward_ast": [float(rng.random() < 0.5) for _ in completions],
    }


def _demo_lora() -> Any:
    """The demo's adapter settings (configs/demo.yaml, `model.lora`)."""
    from rl.config import load_config

    return load_config(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml", stage="rl").model.lora


def _trainer(model_name: str, rollouts: dict[str, list], checkpointing: bool, out_dir: str, lora: Any) -> Any:
    from datasets import Dataset
    from trl import GRPOConfig

    from rl.checkpoint import load_policy
    from rl.models import peft_lora_config
    from rl.train.bridge import ComponentReward
    from rl.train.grpo import ToolGRPOTrainer

    model, tok = load_policy(model_name)
    args = GRPOConfig(
        output_dir=out_dir, per_device_train_batch_size=TASKS * GENERATIONS, num_generations=GENERATIONS,
        max_steps=1, use_cpu=True, report_to=[], beta=0.0, loss_type="dapo", remove_unused_columns=False,
        gradient_checkpointing=checkpointing, max_completion_length=768,
        # float32, as the training runs compute (they pass `trainer.bf16`, false): GRPOConfig's default bf16=True
        # would turn on bf16 autocast on CPU too, for both sides, and this compares paths, not precisions.
        bf16=False,
    )
    trainer = ToolGRPOTrainer(
        model=model, processing_class=tok, reward_funcs=[ComponentReward("ast")], args=args,
        train_dataset=Dataset.from_list([{"prompt": f"t{i}"} for i in range(TASKS)]),
        rollout_func=lambda prompts, trainer: rollouts, peft_config=peft_lora_config(lora, model),
    )
    trainer.model.train()
    return trainer


def _step(trainer: Any, micro_batches: list[dict], labelled_only: bool) -> tuple[float, torch.Tensor]:
    """Seconds for the loss and backward over the micro-batches, and the resulting LoRA gradient."""
    trainer.current_gradient_accumulation_steps = len(micro_batches)
    trainer.args.steps_per_generation = len(micro_batches)  # the dapo normaliser reads it
    trainer.model.zero_grad()
    t = time.perf_counter()
    with labelled_positions_only() if labelled_only else contextlib.nullcontext():
        for mb in micro_batches:
            trainer.compute_loss(trainer.model, mb).backward()
    dt = time.perf_counter() - t
    return dt, torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])


def run(
    model_name: str = "smollm2-135m", rounds: int = 3, threads: int = 2, lora: Any = None, length_scale: float = 1.0
) -> dict[str, Any]:
    """Times the four ways and compares their gradients.

    Args:
        model_name: The policy (an alias or a path).
        rounds: Timed rounds after one warm-up round.
        threads: torch threads.
        lora: An `rl.config.LoraConfig`; by default the demo's.
        length_scale: Scales every prompt and reply length (below 1: a quick check of the wiring, not a figure).
    """
    import tempfile

    lora = lora or _demo_lora()
    torch.set_num_threads(threads)
    rollouts = _demo_shaped_rollouts(length_scale=length_scale)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        plain = _trainer(model_name, rollouts, checkpointing=False, out_dir=tmp, lora=lora)
        torch.manual_seed(0)
        ckpt = _trainer(model_name, rollouts, checkpointing=True, out_dir=tmp, lora=lora)
        batch = plain._generate_and_score_completions([{"prompt": f"t{i // GENERATIONS}"} for i in range(TASKS * GENERATIONS)])
        grouped = length_grouped_microbatches(batch, 4)
        ways = {
            "trl_default": (ckpt, [batch], False),
            "padded_no_checkpointing": (plain, [batch], False),
            "grouped": (plain, grouped, False),
            "grouped_labelled_only": (plain, grouped, True),
        }
        times: dict[str, list[float]] = {w: [] for w in ways}
        grads: dict[str, torch.Tensor] = {}
        for r in range(rounds + 1):  # round 0 warms up
            for name, (trainer, mbs, labelled_only) in ways.items():
                dt, grads[name] = _step(trainer, mbs, labelled_only)
                if r:
                    times[name].append(dt)
        _, grads["trl_split4"] = _step(ckpt, split_tensor_dict(batch, 4), False)  # the float32 noise floor
    real = int(batch["prompt_mask"].sum() + batch["completion_mask"].sum())
    padded = TASKS * GENERATIONS * (batch["prompt_ids"].shape[1] + batch["completion_ids"].shape[1])
    med = {w: statistics.median(ts) for w, ts in times.items()}
    ref = grads["trl_default"]
    return {
        # The throughput goal's figure (>= 2.5): ours, the last way, against TRL's default path.
        "learner_vs_trl_default": round(med["trl_default"] / med["grouped_labelled_only"], 2),
        "model": model_name,
        "lora": dataclasses.asdict(lora),
        "torch_threads": threads,
        "episodes": TASKS * GENERATIONS,
        "real_tokens": real,
        "padded_tokens": padded,
        "grouped_tokens": sum(mb["prompt_ids"].numel() + mb["completion_ids"].numel() for mb in grouped),
        "seconds_median": {w: round(s, 2) for w, s in med.items()},
        "real_tokens_per_s": {w: round(real / s, 1) for w, s in med.items()},
        "speedup_grouped_vs_trl_default": round(med["trl_default"] / med["grouped"], 2),
        "speedup_grouped_vs_padded_no_checkpointing": round(med["padded_no_checkpointing"] / med["grouped"], 2),
        "speedup_labelled_only_vs_grouped": round(med["grouped"] / med["grouped_labelled_only"], 2),
        "speedup_labelled_only_vs_trl_default": round(med["trl_default"] / med["grouped_labelled_only"], 2),
        "grad_rel_diff_vs_trl_default": {w: float((g - ref).norm() / ref.norm()) for w, g in grads.items() if w != "trl_default"},
        "rounds": rounds,
    }
