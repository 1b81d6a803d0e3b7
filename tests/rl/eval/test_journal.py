"""rl/eval/evaluate.py: the journal a killed evaluation resumes from, and what ties it to a model."""

import json
import os

from rl.eval.evaluate import TaskJournal, model_files


def test_journal_resumes_only_with_the_same_header_and_ignores_a_cut_line(tmp_path):
    path = tmp_path / "res.tasks.jsonl"
    log = TaskJournal(path, {"model": "m", "tasks": ["a", "b", "c"]})
    assert log.rows == {} and log.note == ""
    log.append([{"id": "a", "valid": True}, {"id": "b", "valid": False, "reward": float("nan")}])
    with path.open("a") as f:
        f.write('{"id": "c", "val')  # killed mid-write
    again = TaskJournal(path, {"model": "m", "tasks": ["a", "b", "c"]})
    assert again.rows == {"a": {"id": "a", "valid": True}, "b": {"id": "b", "valid": False, "reward": None}}
    assert "2 task(s) already evaluated" in again.note
    other = TaskJournal(path, {"model": "another", "tasks": ["a", "b", "c"]})
    assert other.rows == {} and "starting over" in other.note
    assert path.read_text().count("\n") == 1  # only the new header is left


def test_model_files_follow_the_base_chain_and_change_when_a_file_is_rewritten(tmp_path):
    base, adapter = tmp_path / "sft", tmp_path / "grpo"
    base.mkdir(), adapter.mkdir()
    (base / "model.safetensors").write_bytes(b"x" * 10)
    (adapter / "adapter_model.safetensors").write_bytes(b"y")
    manifest = {"format_version": 1, "stage": "grpo", "step": 1, "weights": "adapter", "base": str(base)}
    (adapter / "toolgym_checkpoint.json").write_text(json.dumps(manifest))
    before = model_files(str(adapter))
    assert str(base / "model.safetensors") in before and len(before) == 3
    os.utime(base / "model.safetensors", ns=(1, 1))  # the base retrained in place
    assert model_files(str(adapter)) != before
    assert model_files("tiny-random") == {}
