"""`python launch/bench.py NAME` at tiny sizes: the JSON has every figure, and the checks the figures rest on
hold. A benchmark's speed is never asserted here (ratios are measured by `make bench`, not by tests)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_envs_bench_generates_what_it_was_asked_and_times_both_call_kinds():
    from launch.benchmarks import envs as bench

    calls = bench.bench_calls(min_seconds=0.05)
    gen = bench.bench_generation(n=50)
    assert gen["tasks_generated"] == 50
    assert {"simple_calls_per_s", "state_changing_calls_per_s"} <= calls.keys()


def test_bench_cli_rejects_an_unknown_benchmark():
    proc = subprocess.run([sys.executable, "launch/bench.py", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice: 'nope'" in proc.stderr


def test_formats_bench_prints_json():
    proc = subprocess.run([sys.executable, "launch/bench.py", "formats"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out and all(isinstance(v, dict) for v in out.values())


def test_retrieval_bench_reports_recall_at_every_k_on_both_sources():
    from launch.benchmarks.retrieval import run

    out = run(toolgym_n=80, bfcl_per_category=10, min_seconds=0.1)
    assert out["pool_tools"] >= 2000
    for source, floor in (("toolgym", 0.2), ("bfcl", 0.6)):  # measured 0.44 and 0.86 at full size
        r = out[source]
        assert r["tasks"] > 0 and 0 <= r["recall@1"] <= r["recall@5"] <= r["recall@10"] <= 1
        assert r["recall@10"] > floor, (source, r)


@pytest.mark.integration
def test_rollout_bench_decodes_the_same_tokens_every_way():
    from launch.benchmarks.rollout import run

    out = run("tiny-random", quick=True)
    pool = out["pool_throughput"]
    assert {"tokens_per_s", "ratio_vs_generate", "overhead_pct", "goal_overhead_pct"} <= pool["pool_2w"].keys()
    assert pool["pool_2w"]["same_tokens"]  # the pool and plain generate decoded the same greedy tokens
    lock = out["lockstep"]
    assert {"lockstep_s", "one_by_one_s", "ratio", "goal_ratio", "kv_reuse"} <= lock.keys()
    assert lock["same_episodes"] and lock["kv_reuse"]["same_episodes"]
    assert lock["kv_reuse"]["prefill_tokens_reused_on"] > 0
    assert out["weight_sync"]["workers_at_latest_version"]
    demo = out["demo_shaped_pool"]
    assert demo["generated_tokens"] > 0 and demo["prompt_tokens"] > demo["generated_tokens"]
    assert 0 < demo["flop_bound_with_prefill_tok_s"] < demo["flop_bound_tok_s"] == out["flop_bound_tok_s"]
    assert out["pool_vs_flop_bound"] == pytest.approx(out["pool_tok_s"] / out["flop_bound_tok_s"])
    assert out["lockstep_vs_sequential"] == lock["ratio"] and out["lora_sync_s"] > 0
    loop = out["tool_loop"]
    assert loop["same_prompt_ids"] == "2/2"  # TRL's tokenized prompts (tools included) are toolgym's
    for side in ("trl", "toolgym"):
        first = loop[side]["runs"][0]
        assert first["assistant_messages"] >= 2 and first["policy_tokens"] > 0, (side, first)
    calls = [loop[side]["tool_calls"] for side in ("trl", "toolgym")]
    assert out["tool_loops_entered"] == loop["tool_loops_entered"] == all(n > 0 for n in calls)
    assert out["vs_trl_tool_loop"] == loop["vs_trl_tool_loop"] == pytest.approx(
        loop["toolgym"]["episodes_per_s"] / loop["trl"]["episodes_per_s"])


def test_tool_loop_bench_hands_trl_the_task_tools_and_env():
    """TRL reads a tool from its environment's method (transformers' get_json_schema of the bound method): every
    task tool must come back with its name, parameters, types and required list; and playing the ground truth
    through the methods must leave the env where toolgym's own replay leaves it."""
    from transformers.utils import get_json_schema

    import envs.tasks
    from envs.replay import replay_ground_truth, tool_parameters, turn_calls
    from envs.schema import normalize_tool
    from launch.benchmarks.tool_loop import _JSON_TYPES, _tool_method, _ToolgymEnv

    for task in envs.tasks.generate(4, "train", seed=0, categories=["multi_step"]):
        cls = type("Env", (_ToolgymEnv,), {normalize_tool(s)["function"]["name"]: _tool_method(s) for s in task.tools})
        env = cls()
        for s in task.tools:
            want = normalize_tool(s)["function"]
            got = get_json_schema(getattr(env, want["name"]))["function"]
            assert got["name"] == want["name"]
            props = want["parameters"].get("properties", {})
            assert got["parameters"]["properties"].keys() == props.keys()
            assert set(got["parameters"].get("required", [])) == set(want["parameters"].get("required", []))
            for name, p in props.items():
                if p.get("type") in _JSON_TYPES and not p.get("enum"):
                    assert got["parameters"]["properties"][name]["type"] == p["type"], (want["name"], name)
                if p.get("enum"):
                    assert got["parameters"]["properties"][name]["enum"] == p["enum"]
        env.reset(task=task.to_json(), env_seed=0, max_output_chars=1000)
        schemas = tool_parameters(task.tools)
        for turn in task.ground_truth:
            for call in turn_calls(turn, schemas):
                assert json.loads(getattr(env, call.name)(**call.arguments))["name"] == call.name
        assert env.env.state() == replay_ground_truth(task)[-1], task.id


def test_tool_loop_bench_reuses_a_finished_sft_of_the_same_settings_only(tmp_path, monkeypatch):
    from launch.benchmarks import tool_loop
    from launch.common import config_and_train_tasks
    from rl.checkpoint import FORMAT_VERSION, MANIFEST
    from rl.config import to_dict
    from rl.train import sft

    trained = []
    monkeypatch.setattr(sft, "train_sft", lambda cfg, tasks: trained.append(cfg.trainer.output_dir))
    out = tmp_path / "sft_native"
    cfg, _ = config_and_train_tasks(tool_loop.SFT_CONFIG, [*tool_loop.SFT_OVERRIDES, f"trainer.output_dir={out}"],
                                    stage="sft")
    (out / "final").mkdir(parents=True)
    (out / "final" / MANIFEST).write_text(json.dumps({"format_version": FORMAT_VERSION, "weights": "full", "config": to_dict(cfg)}))
    assert tool_loop.native_checkpoint(str(out)) == str(out / "final") and trained == []
    config = to_dict(cfg)
    config["sft"]["epochs"] = 1  # another run's settings: trained again
    (out / "final" / MANIFEST).write_text(json.dumps({"format_version": FORMAT_VERSION, "weights": "full", "config": config}))
    tool_loop.native_checkpoint(str(out))
    assert trained == [str(out)] and not (out / "final").exists()


def test_learner_bench_gives_trl_and_ours_the_same_adapter_and_gradient():
    from launch.benchmarks import learner
    from rl.config import LoraConfig

    out = learner.run("tiny-random", rounds=1, threads=1, lora=LoraConfig(r=4, alpha=8, top_layers=1), length_scale=0.1)
    assert out["lora"]["top_layers"] == 1
    assert set(out["seconds_median"]) == {"trl_default", "padded_no_checkpointing", "grouped", "grouped_labelled_only"}
    # Every way trains the same adapter (same gradient length) to the same gradient, up to float32 rounding,
    # whose floor the bench measures as TRL's own batch split in four.
    diffs = out["grad_rel_diff_vs_trl_default"]
    assert diffs["padded_no_checkpointing"] < 1e-5
    assert max(diffs["grouped"], diffs["grouped_labelled_only"]) < max(10 * diffs["trl_split4"], 1e-3)
    assert out["grouped_tokens"] < out["padded_tokens"]


TINY_SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=12, num_attention_heads=4,
                  num_key_value_heads=2, tie_word_embeddings=True)


@pytest.mark.integration
def test_gpu_bench_parts_run_on_cpu_in_their_own_processes():
    """The GPU benchmark's parts (launch/benchmarks/gpu.py) on a tiny shape, on CPU with gloo: the engine plays
    the same episodes twice and its logprobs match the model's own forward; DeepSpeed ZeRO-2 trains the adapter
    (PEFT starts lora_B at 0). Each part runs in a spawned process, as on the GPU machine."""
    from launch.benchmarks import gpu
    from rl.models import resolve

    tok = str(resolve("smollm2-135m", allow_download=False))
    engine = gpu._isolated(gpu.engine_part, TINY_SHAPE, tok, 8, timeout_s=600)
    assert "error" not in engine, engine.get("error")
    assert engine["same_episodes"] and engine["same_greedy_episodes"]
    assert engine["policy_tokens"] > 0 and engine["generate_baseline"]["tokens"] > 0
    # bf16 on CPU: the engine's decode and the full forward round differently, but by little
    assert engine["logprob_gap"]["tokens"] > 0 and engine["logprob_gap"]["mean_abs"] < 0.05

    learner = gpu._isolated(gpu.learner_part, TINY_SHAPE, tok, 2, timeout_s=600)
    assert "error" not in learner, learner.get("error")
    assert learner["backend"] == "gloo" and learner["zero_stage"] == 2
    assert learner["steps"] == gpu.STEPS and len(learner["loss"]) == gpu.STEPS
    assert learner["lora_B_abs_sum_after"] > 0


def test_gpu_bench_refuses_a_machine_without_cuda(monkeypatch):
    from launch.benchmarks import gpu

    monkeypatch.setattr(gpu.torch.cuda, "is_available", lambda: False)
    assert "no CUDA device" in gpu.run()["error"]


@pytest.mark.integration
@pytest.mark.slow
def test_async_bench_times_both_runs_and_the_async_one_learns_one_step_off_policy():
    from launch.benchmarks.async_step import run

    out = run("tiny-random", steps=2, prompts_per_step=2, num_generations=2,
              overrides=["model.lora.top_layers=null", "rollout.max_new_tokens=8", "rollout.max_total_tokens=512",
                         "data.train_size=16"])
    assert out["sync"]["staleness"] == [0.0, 0.0] and out["async"]["staleness"] == [0.0, 1.0]
    assert out["async_step_speedup"] > 0 and len(out["async"]["async/is_ratio_mean"]) == 2
    assert out["async"]["async/logp_gap_mean"][0] < 1e-3  # the first step is on-policy: workers' log-probs = learner's


def test_memory_bench_faults_in_every_page_and_times_each_training_iteration():
    from launch.benchmarks.memory import PAGE, _in_child

    touch = _in_child("touch", str(1 / 64))
    pages = (1 << 30) // 64 // PAGE
    for name in ("first_touch", "retouch"):
        assert touch[f"{name}_faults"] >= pages  # one write per page: each page of the new mapping faults in
        assert touch[f"{name}_s_per_gib"] > 0
    step = _in_child("train_step", "2", "16", "2")
    assert len(step["iterations"]) == 2 and step["peak_rss_gib"] > 0.3  # the model's float32 weights alone
    assert all(it["wall_s"] > 0 and it["user_s"] > 0 for it in step["iterations"])
