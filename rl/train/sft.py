"""Supervised warm-up with TRL's SFTTrainer on tasks rendered through the run's format.

The dataset is pre-tokenised by rl/train/sft_data.py (input_ids + assistant_masks), so TRL trains on exactly
the assistant tokens. `<output_dir>/final` is a toolgym checkpoint (rl/checkpoint.py) with merged weights and the
tokenizer (with any control tokens a chat template added): `launch/grpo.py` accepts it as `model.name_or_path`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from envs.types import Task
from rl.checkpoint import load_policy, save_checkpoint
from rl.config import SFTRunConfig, to_dict
from rl.models import peft_lora_config
from rl.rollout.chat import ChatRenderer
from rl.train.lm_head import labelled_positions_only
from rl.train.metrics import RunLogger, StepTimer, TimingCallback, refuse_stale_run
from rl.train.sft_data import BuildReport, build_examples, read_chat_rows

log = logging.getLogger(__name__)


def build_dataset(cfg: SFTRunConfig, tasks: list[Task], tokenizer: Any) -> tuple[Any, BuildReport]:
    """Validated, tokenised SFT examples as a `datasets.Dataset` (input_ids, assistant_masks)."""
    from datasets import Dataset

    renderer = ChatRenderer.for_format(tokenizer, cfg.format)
    s = cfg.sft
    examples, report = build_examples(
        tasks,
        renderer,
        non_fc_ratio=s.non_fc_ratio,
        non_fc_near_miss=s.non_fc_near_miss,
        reasoning=s.reasoning,
        chat_rows=read_chat_rows(s.chat_mix_path) if s.chat_mix_path else None,
        chat_mix_ratio=s.chat_mix_ratio,
        max_length=s.max_length,
        seed=cfg.data.seed,
    )
    if not examples:
        raise ValueError(f"no SFT example survived validation: {report.summary()}; e.g. {report.examples_of_rejects[:3]}")
    rows = [{"input_ids": e.input_ids, "assistant_masks": e.assistant_masks, "length": len(e.input_ids)} for e in examples]
    return Dataset.from_list(rows), report


def train_sft(cfg: SFTRunConfig, tasks: list[Task], resume: bool = False) -> dict[str, Any]:
    """Runs SFT; returns a summary with the final checkpoint path and the data report.

    Args:
        cfg: Run config (model, format, sft recipe, trainer output/checkpointing, logging).
        tasks: Source tasks.
        resume: Continue from the latest checkpoint in `trainer.output_dir`.
    """
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    out = Path(cfg.trainer.output_dir)
    refuse_stale_run(out, resume)
    out.mkdir(parents=True, exist_ok=True)
    (out / "toolgym_config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    model, tok = load_policy(cfg.model.name_or_path, dtype=cfg.model.dtype, fmt=cfg.format,
                             allow_download=cfg.model.allow_download)
    dataset, report = build_dataset(cfg, tasks, tok)
    print(f"[toolgym] SFT data: {report.summary()}", flush=True)
    (out / "data_report.json").write_text(
        json.dumps({"built": dict(report.built), "rejected": dict(report.rejected), "examples": report.examples_of_rejects}, indent=2)
    )

    peft_config = None
    if cfg.model.lora is not None:
        peft_config = peft_lora_config(cfg.model.lora, model)
    s = cfg.sft
    args = TRLSFTConfig(
        output_dir=str(out),
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        per_device_train_batch_size=s.micro_batch_size or s.batch_size,
        gradient_accumulation_steps=s.accumulation_steps,
        learning_rate=s.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=s.warmup_steps,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.trainer.save_steps,
        save_total_limit=cfg.trainer.save_total_limit,
        seed=cfg.trainer.seed,
        bf16=cfg.trainer.bf16,
        use_cpu=not cfg.trainer.use_gpu,
        report_to=[],  # RunLogger does W&B, aligned with checkpoints (see rl/train/metrics.py)
        max_length=None,  # lengths were checked while building (over-long examples are rejected, not cut)
        train_sampling_strategy="group_by_length",  # batches of similar length: little padding
        length_column_name="length",
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        dataloader_num_workers=0,
    )
    timer = StepTimer()
    logger = RunLogger(str(out), cfg.logging.report_to, cfg.logging.project, cfg.logging.run_name or "sft", to_dict(cfg),
                       step_metrics=lambda: timer.last)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tok, peft_config=peft_config, callbacks=[TimingCallback(timer), logger]
    )
    resume_from = get_last_checkpoint(str(out)) if resume else None
    with labelled_positions_only():
        result = trainer.train(resume_from_checkpoint=resume_from)
    final = save_checkpoint(trainer.model, tok, out / "final", merge=True, stage="sft", step=trainer.state.global_step,
                            base=cfg.model.name_or_path, tool_format=dataclasses.asdict(cfg.format), config=to_dict(cfg))
    return {
        "final": str(final),
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "examples": len(dataset),
        "data_report": report.summary(),
    }
