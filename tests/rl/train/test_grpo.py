"""GRPO end to end on a local Ray: SFT smoke -> GRPO smoke, 2-learner ZeRO-2, ray job submit and kill/resume
(both multi-turn, on another family's chat template: qwen3, llama3_1), and a rollout worker dying mid-run (the
SFT smoke model comes from conftest.py).
"""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

from runs import ENV, PY, ROOT, metrics, run, run_until, summary

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_sft_output_reloads_with_tokenizer_and_template(sft_model):
    from rl.checkpoint import load_policy

    model, tok = load_policy(str(sft_model))
    assert tok.chat_template and (sft_model / "model.safetensors").is_file()
    assert (sft_model.parent / "data_report.json").is_file()
    assert model.config.num_hidden_layers == 2


@pytest.fixture(scope="module")
def smoke_run(sft_model, ray_head, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("grpo")
    proc = run(["launch/grpo.py", "--config", "configs/smoke.yaml", f"model.name_or_path={sft_model}",
                 f"trainer.output_dir={out}"], env=ray_head.joined(ENV))
    return out, summary(proc.stdout)


def test_smoke_trains_two_steps_on_policy_with_every_reward_logged(smoke_run, sft_model):
    from safetensors.torch import load_file

    from rl.config import load_config

    out, summary = smoke_run
    cfg = load_config(ROOT / "configs" / "smoke.yaml")
    assert summary["steps"] == cfg.trainer.max_steps == 2
    # Workers ended on the trainer's final step: every rollout came from the current weights.
    assert summary["worker_versions"] == [2] * cfg.rollout.num_workers
    # Parameters changed: LoRA B starts at zero, so any non-zero B was learned.
    adapter = load_file(out / "final" / "adapter_model.safetensors")
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)
    rows = metrics(out)
    assert [r["step"] for r in rows] == [1, 2]
    for comp in cfg.rewards.components:
        assert all(f"rewards/{comp}/mean" in r for r in rows), comp
    assert all(r["timing/rollout_s"] > 0 and r["timing/train_s"] > 0 and "timing/sync_s" in r for r in rows)
    assert any(r["reward_std"] > 0 for r in rows)  # samples differed: there was something to learn from
    # Groups of 2: a row has zero advantage only in a flat group, and one row per micro-batch stays.
    assert all(r["zero_advantage_rows_skipped_frac"] <= r["frac_reward_zero_std"] for r in rows)
    # Evaluated after each step on the workers; the best step's checkpoint is named and kept.
    assert all({"eval/toolgym/reward", "eval/toolgym/ast_valid", "eval/toolgym/exec_valid"} <= set(r) for r in rows)
    best = max(rows, key=lambda r: r["eval/toolgym/reward"])  # the first of equals, as HF keeps it
    assert Path(summary["best_checkpoint"]) == (out / f"checkpoint-{best['step']}").resolve()
    assert summary["best_metric"] == {"toolgym/reward": pytest.approx(best["eval/toolgym/reward"])}
    assert Path(summary["best_checkpoint"]).is_dir()
    # W&B offline run directory with the run's history.
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    assert (out / "checkpoint-2" / "trainer_state.json").is_file()


def test_two_learners_zero2_match_one_learner_first_step_loss(smoke_run, sft_model, ray_head, tmp_path):
    out1, _ = smoke_run
    out2 = tmp_path / "zero2"
    run(["launch/grpo.py", "--config", "configs/smoke.yaml", f"model.name_or_path={sft_model}",
          f"trainer.output_dir={out2}", "trainer.num_learners=2", "trainer.deepspeed=configs/deepspeed/zero2.json",
          "trainer.max_steps=1"], env=ray_head.joined(ENV))
    first1, first2 = metrics(out1)[0], metrics(out2)[0]
    # Same rollouts (seeded by step, task and sample, not by sharding) and the same weights: the same loss.
    assert first2["reward"] == pytest.approx(first1["reward"], abs=1e-6)
    assert first2["loss"] == pytest.approx(first1["loss"], abs=1e-5)


def _template_run(template: str, out: Path) -> list[str]:
    """A run's overrides: tiny-random with another family's template swapped in (and its control tokens), native
    calls, two-turn tasks. The env_mask contract on these templates is checked in tests/rl/rollout/test_templates.py."""
    return ["--config", "configs/smoke.yaml", "model.name_or_path=tiny-random", f"trainer.output_dir={out}",
            "format.name=native", f"format.chat_template={template}", "data.categories=[multi_turn]",
            "rollout.max_total_tokens=2048"]


def _assert_trained_on_template(out: Path, template: str, steps: int) -> None:
    from rl.checkpoint import load_policy, read_manifest
    from rl.rollout.templates import trl_templates

    rows = metrics(out)
    assert [r["step"] for r in rows] == list(range(1, steps + 1))  # exact: none lost, none repeated
    assert all(r["completions/mean_length"] > 0 for r in rows)
    assert read_manifest(out / "final")["tool_format"]["chat_template"] == template
    _, tok = load_policy(str(out / "final"))  # the checkpoint keeps the template it was trained with
    assert tok.chat_template == trl_templates()[template]


def test_ray_job_submit_trains_multi_turn_on_the_qwen3_template(ray_head, tmp_path):
    """The cluster launch path (`ray job submit` to a head) on a model brought with another family's template."""
    ray = str(Path(PY).parent / "ray")
    out = tmp_path / "job"
    deadline = time.time() + 300
    while True:
        sub = subprocess.run(
            [ray, "job", "submit", "--address", ray_head.dashboard, "--working-dir", str(ROOT), "--",
             "python", "launch/grpo.py", *_template_run("qwen3", out), "trainer.max_steps=2"],
            env=ray_head.env, capture_output=True, text=True, timeout=900,
        )
        # The head's job agent registers a while after it starts; until then a submit is refused (connection
        # refused, or HTTP 500 "No available agent"; nothing is submitted), so wait and submit again.
        refused = "No available agent to submit job" in sub.stderr or "Failed to connect to Ray" in sub.stderr \
            or "Connection refused" in sub.stderr
        if not refused or time.time() > deadline:
            break
        time.sleep(1)
    assert sub.returncode == 0, sub.stdout[-4000:] + sub.stderr[-2000:] + ray_head.log.read_text()[-2000:]
    job_id = re.search(r"Job '(raysubmit_\w+)' submitted", sub.stdout).group(1)
    from ray.job_submission import JobStatus, JobSubmissionClient

    assert JobSubmissionClient(ray_head.dashboard).get_job_status(job_id) == JobStatus.SUCCEEDED
    assert summary(sub.stdout)["worker_versions"] == [2, 2]  # on-policy, both steps
    _assert_trained_on_template(out, "qwen3", steps=2)


def test_kill_mid_run_then_resume_loses_and_repeats_no_step_on_the_llama3_1_template(ray_head, tmp_path):
    out = tmp_path / "resume"
    args = ["launch/grpo.py", *_template_run("llama3_1", out), "trainer.max_steps=3", "trainer.save_steps=1"]
    run_until(args, out / "checkpoint-1" / "trainer_state.json")  # on a local Ray of its own, killed with it
    logged_before = [r["step"] for r in metrics(out)]
    assert logged_before and max(logged_before) < 3
    result = summary(run([*args, "--resume"], env=ray_head.joined(ENV)).stdout)
    assert result["steps"] == 3 and result["worker_versions"] == [3, 3]
    _assert_trained_on_template(out, "llama3_1", steps=3)
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    ids = {p.name.rsplit("-", 1)[-1] for p in (out / "wandb").glob("offline-run-*")}
    assert len(ids) == 1  # the resumed run continued the same W&B run id


def test_async_rollouts_learn_one_step_off_policy_and_a_resumed_run_trains_on_the_same_episodes(sft_model, ray_head,
                                                                                                  tmp_path):
    from safetensors.torch import load_file

    args = ["launch/grpo.py", "--config", "configs/smoke.yaml", f"model.name_or_path={sft_model}",
            "algorithm.async_rollouts=true", "trainer.max_steps=3", "trainer.save_steps=1", "trainer.save_total_limit=3",
            "logging.report_to=none", "eval.every_n_steps=0"]
    full = tmp_path / "full"
    result = summary(run([*args, f"trainer.output_dir={full}"], env=ray_head.joined(ENV)).stdout)
    assert result["steps"] == 3 and result["worker_versions"] == [3, 3]
    rows = metrics(full)
    # the first step plays on its own weights; every later one learns from episodes of the weights one update old
    assert [r["rollout/staleness"] for r in rows] == [0.0, 1.0, 1.0]
    assert all(r["async/is_ratio_mean"] > 0 and 0 <= r["async/is_ratio_outside_clip_frac"] <= 1 for r in rows)
    assert (full / "checkpoint-1" / "prefetched_rollouts-rank0.pkl").is_file()
    assert not (full / "checkpoint-3" / "prefetched_rollouts-rank0.pkl").exists()  # no step after the last
    # Resume from checkpoint-1 alone: step 2 trains on the episodes checkpoint-1 kept (played by step 1's
    # weights), so steps 2 and 3 and the final weights are the uninterrupted run's.
    part = tmp_path / "part"
    shutil.copytree(full / "checkpoint-1", part / "checkpoint-1")
    run([*args, f"trainer.output_dir={part}", "--resume"], env=ray_head.joined(ENV))
    resumed = {r["step"]: r for r in metrics(part)}
    for r in rows[1:]:
        assert resumed[r["step"]]["rollout/staleness"] == 1.0
        assert resumed[r["step"]]["reward"] == pytest.approx(r["reward"], abs=0)
        assert resumed[r["step"]]["loss"] == pytest.approx(r["loss"], rel=1e-5)
    a, b = load_file(full / "final" / "adapter_model.safetensors"), load_file(part / "final" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_dying_rollout_worker_is_restarted_resynced_and_its_batch_retried():
    import ray

    import envs
    from rl.config import load_config
    from rl.rollout.pool import RolloutPool
    from rl.rollout.setup import RolloutSetup

    cfg = load_config(None, ["model.name_or_path=tiny-random", "rollout.num_workers=2", "rollout.max_new_tokens=8",
                             "format.tool_style=compact", "rollout.max_turns=1"])
    from rl.ray_utils import start_local_ray

    start_local_ray(num_cpus=4, include_dashboard=False, ignore_reinit_error=True)
    try:
        pool = RolloutPool.remote(RolloutSetup.of(cfg, lora=cfg.model.lora))
        ray.get(pool.ready.remote())
        from rl.checkpoint import load_policy

        model, _ = load_policy("tiny-random", lora=cfg.model.lora)
        from peft import get_peft_model_state_dict

        weights = {k: torch.randn_like(v) for k, v in get_peft_model_state_dict(model).items()}
        ray.get(pool.sync_weights.remote([ray.put(weights)], 7))
        tasks = envs.tasks.generate(4, "train", seed=0, categories=["simple"])
        reqs = [{"task": t, "seed": i, "sample_index": 0} for i, t in enumerate(tasks)]
        before, _ = ray.get(pool.rollout.remote(reqs))
        ray.get(pool.crash_worker.remote(0))
        after, stats = ray.get(pool.rollout.remote(reqs))
        assert stats["lost_batches"] >= 1
        assert [t.task_id for t in after] == [t.id for t in tasks]
        assert {t.version for t in after} == {7}  # the restarted worker got the latest weights back
        assert [t.completion_ids for t in after] == [t.completion_ids for t in before]  # same weights, same seeds
    finally:
        ray.shutdown()
