"""launch/eval.py (BFCL and toolgym, compare mode) and launch/export.py (merge, card, Hub push)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
ENV = {**os.environ, "WANDB_MODE": "offline", "TRL_EXPERIMENTAL_SILENCE": "1"}


def _eval(args, capsys=None) -> str:
    """launch/eval.py in this process (no new interpreter to start); returns what it printed."""
    from launch.eval import main

    assert main([str(a) for a in args]) == 0
    return capsys.readouterr().out if capsys is not None else ""


def _run(args, timeout=900):
    proc = subprocess.run([PY, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


@pytest.mark.integration
def test_bfcl_eval_has_every_category_and_the_summaries_and_a_killed_run_resumes_to_the_same_json(tmp_path, capsys):
    from envs.bfcl_formats import CONFIGS
    from rl.eval.bfcl_score import ALL_CATEGORIES, NOT_RUN
    from rl.eval.evaluate import BFCL_CATEGORIES

    def args(out):  # 6 tasks a batch: format_sensitivity's 26 prompt variants make 78 of the 123 tasks
        return ["--benchmark", "bfcl", "--model", "tiny-random", "--limit", "3", "--out", str(out), "--batch-size", "2",
                "rollout.max_new_tokens=16"]

    whole = tmp_path / "whole.json"
    _eval(args(whole))
    res = json.loads(whole.read_text())
    assert list(res["categories"]) == list(ALL_CATEGORIES)  # every BFCL v4 category has a key
    for c, v in res["categories"].items():
        n = 3 * len(CONFIGS) if c == "format_sensitivity" else 3  # 3 base tasks, each in BFCL's 26 prompt variants
        assert (v["n"], "not_run" in v) == ((0, True) if c in NOT_RUN else (n, False)), c
    fs = res["format_sensitivity"]  # the per-variant breakdown and BFCL's spread across the variants
    assert list(fs["configs"]) == list(CONFIGS) and {v["n"] for v in fs["configs"].values()} == {3}
    assert fs["n"] == 78 and fs["accuracy"] == res["categories"]["format_sensitivity"]["valid"]
    assert {"accuracy_max_delta", "accuracy_std", "accuracy_variance"} <= set(fs) and fs["complete"] is False
    assert "Format sensitivity" in whole.with_suffix(".md").read_text()
    assert set(res["summaries"]) == {"non_live", "live", "irrelevance", "relevance", "multi_turn", "web_search", "memory",
                                     "agentic", "overall"}
    assert res["summaries"]["overall"] is None and res["partial"]["overall"] is not None  # vector, web: not run
    assert res["summaries"]["non_live"] is not None  # simple_python, simple_java and simple_javascript all ran
    # Memory: kv and rec_sum ran (the vector backend did not), so the memory summary is N/A and the partial has it.
    cats = res["categories"]
    assert res["summaries"]["memory"] is None and res["summaries"]["agentic"] is None
    assert res["partial"]["memory"] == pytest.approx((cats["memory_kv"]["valid"] + cats["memory_rec_sum"]["valid"]) / 2)
    assert res["partial"]["agentic"] == res["partial"]["memory"] and res["partial"]["overall_covers"]["agentic"] == 40
    assert "all-MiniLM-L6-v2" in cats["memory_vector"]["not_run"]
    memory_rows = [r for r in res["per_task"] if r["category"] in ("memory_kv", "memory_rec_sum")]
    # --limit 3 also bounds the prerequisite conversations: the first 3 turns of the scenario's, one conversation.
    assert [r["memory_prereqs"] for r in memory_rows] == [[f"{r['category']}_prereq_0-customer-0"] for r in memory_rows]
    assert len(memory_rows) == 6
    assert "not a leaderboard number" in res["partial"]["label"]
    assert res["decoding"] == "greedy" and "seed" in res and res["data_version"] == "bfcl-eval==2026.3.23"
    assert res["format"]["name"] and res["limits"]["max_new_tokens"] == 16
    assert whole.with_suffix(".md").read_text().count("|") > 20 and whole.with_suffix(".png").stat().st_size > 1000
    # A random model calls nothing sensible: irrelevance passes, AST categories fail.
    assert res["categories"]["simple_python"]["valid"] == 0.0 and res["categories"]["irrelevance"]["valid"] == 1.0

    # Killed once some tasks are journaled, then rerun: it resumes, redoes none, and ends with the same JSON.
    resumed = tmp_path / "resumed.json"
    journal = resumed.with_suffix(".tasks.jsonl")
    proc = subprocess.Popen([PY, "launch/eval.py", *args(resumed)], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and not (journal.is_file() and journal.read_text().count("\n") > 1):
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    done_before = journal.read_text().count("\n") - 1
    total = 3 * (len(BFCL_CATEGORIES) - 1 + len(CONFIGS))
    assert 0 < done_before < total
    capsys.readouterr()
    assert f"{done_before} task(s) already evaluated" in _eval(args(resumed), capsys)
    ids = [json.loads(line)["id"] for line in journal.read_text().splitlines()[1:]]
    assert len(ids) == len(set(ids)) == total  # no finished task was played again
    again = json.loads(resumed.read_text())
    assert {k: v for k, v in again.items() if k != "wall_s"} == {k: v for k, v in res.items() if k != "wall_s"}


@pytest.mark.integration
def test_toolgym_eval_and_compare_and_open_mode(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _run(["launch/eval.py", "--benchmark", "toolgym", "--model", "tiny-random", "--limit", "16", "--out", str(a),
          "rollout.max_new_tokens=8"])  # once as a new user runs it, then in this process
    _eval(["--benchmark", "toolgym", "--model", "tiny-random", "--limit", "16", "--out", b, "rollout.max_new_tokens=8"])
    res = json.loads(a.read_text())
    assert res["overall"]["n"] == 16 and "domains" in res and {"ast_valid", "exec_valid", "reward"} <= set(res["overall"])
    capsys.readouterr()
    cmp = _eval(["--compare", a, b], capsys)
    assert "overall" in cmp and "[+0.00, +0.00]" in cmp  # same model, greedy: identical per-task results
    # The same tasks in open mode: the prompt offers search_tools alone, and retrieval is reported.
    opened = tmp_path / "open.json"
    _eval(["--benchmark", "toolgym", "--model", "tiny-random", "--limit", "16", "--out", opened, "--tools", "open",
           "rollout.max_new_tokens=8"])
    res_open = json.loads(opened.read_text())
    assert res_open["tools"] == "open" and res["tools"] == "golden"
    assert [r["id"] for r in res_open["per_task"]] == [r["id"] for r in res["per_task"]]
    assert {"retrieval_recall", "searches"} <= set(res_open["overall"]) and "retrieval_recall" not in res["overall"]
    assert "golden-tool recall" in opened.with_suffix(".md").read_text()


def test_paired_bootstrap_ci():
    from rl.eval.evaluate import paired_bootstrap

    mean, lo, hi = paired_bootstrap([0.0] * 100, [1.0] * 60 + [0.0] * 40)
    assert mean == pytest.approx(0.6) and 0.45 < lo < 0.6 < hi < 0.75
    mean, lo, hi = paired_bootstrap([0.5] * 50, [0.5] * 50)
    assert mean == lo == hi == 0.0


@pytest.fixture
def lora_checkpoint(tmp_path):
    """A toolgym adapter checkpoint (LoRA with non-zero B) whose base is the tiny-random alias."""
    from rl.checkpoint import load_policy, save_checkpoint
    from rl.config import LoraConfig

    model, tok = load_policy("tiny-random", lora=LoraConfig(r=4, alpha=8))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    ckpt = save_checkpoint(model, tok, tmp_path / "ckpt", merge=False, stage="grpo", step=3, base="tiny-random",
                           tool_format={"name": "pythonic", "placement": "system"},
                           config={"algorithm": {"loss_type": "dapo"}, "model": {"lora": {"r": 4}}})
    return ckpt, model


def test_export_merges_lora_and_reloads_with_identical_logits(lora_checkpoint, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rl.eval.export import export

    ckpt, peft_model = lora_checkpoint
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"benchmark": "toolgym", "model": "x", "categories": {"simple": {"n": 3, "ast_valid": 0.5, "exec_valid": 0.5, "reward": 1.0}},
                                   "overall": {"n": 3, "ast_valid": 0.5, "exec_valid": 0.5, "reward": 1.0}}))
    bfcl = tmp_path / "b.json"  # as the evaluation writes it: every category, those not run here with a reason
    bfcl.write_text(json.dumps({"benchmark": "bfcl", "model": "x", "overall": {"n": 2, "valid": 0.5, "reward": 1.0},
                                "categories": {"simple_python": {"n": 2, "valid": 0.5, "reward": 1.0},
                                               "web_search_base": {"n": 0, "valid": None, "reward": None, "not_run": "web"}}}))
    out = tmp_path / "export"
    summary = export(ckpt, out, results=[results, bfcl])
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "README.md",
            "toolgym_checkpoint.json"} <= set(summary["files"])
    merged_in_memory = peft_model.merge_and_unload().eval()
    reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
    x = torch.tensor([[1, 200, 3000, 45]])
    with torch.no_grad():
        assert torch.allclose(reloaded(x).logits, merged_in_memory(x).logits, atol=1e-5)
    assert AutoTokenizer.from_pretrained(out).chat_template
    card = (out / "README.md").read_text()
    assert "tiny-random" in card and "| simple | 3 |" in card and "toolgym" in card
    assert "bfcl:simple_python" in card and "bfcl:web_search_base" not in card  # the card's eval results
    assert "GRPO (loss `dapo`" in card and "LoRA r=4" in card  # the recipe, from the checkpoint's manifest
    manifest = json.loads((out / "toolgym_checkpoint.json").read_text())
    assert manifest["weights"] == "full" and manifest["stage"] == "grpo" and manifest["step"] == 3


def test_push_sends_the_folder_and_card_to_the_hub(lora_checkpoint, tmp_path, monkeypatch):
    import huggingface_hub

    from rl.eval.export import export

    calls = []

    class FakeHfApi:  # the network boundary: everything before it runs for real
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, private, exist_ok, repo_type):
            calls.append(("create_repo", repo_id, private))

        def upload_folder(self, folder_path, repo_id, repo_type, commit_message):
            calls.append(("upload_folder", repo_id, sorted(os.listdir(folder_path)), Path(folder_path, "README.md").read_text()))
            return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    ckpt, _ = lora_checkpoint
    summary = export(ckpt, tmp_path / "out", push_to_hub="me/tiny-toolgym", private=True, token="hf_test")
    assert calls[0] == ("init", "hf_test") and calls[1] == ("create_repo", "me/tiny-toolgym", True)
    _, repo, files, card = calls[2]
    assert repo == "me/tiny-toolgym" and "model.safetensors" in files and "README.md" in files
    assert "me/tiny-toolgym" in card and "toolgym" in card
    assert summary["url"].endswith("/commit/abc")


def test_push_without_token_fails_clearly_before_any_work(lora_checkpoint, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    ckpt, _ = lora_checkpoint
    out = tmp_path / "out"
    proc = subprocess.run([PY, "launch/export.py", "--checkpoint", str(ckpt), "--out", str(out), "--push-to-hub", "me/x"],
                          cwd=ROOT, env={k: v for k, v in ENV.items() if k != "HF_TOKEN"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "HF_TOKEN" in proc.stderr
    assert not out.exists()  # nothing half-done to clean up; the checkpoint is untouched
    assert (ckpt / "adapter_model.safetensors").is_file()
