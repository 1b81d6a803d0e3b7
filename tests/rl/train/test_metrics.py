"""A fresh run refuses a directory that holds a previous run (its metrics would be dropped, W&B mixed)."""

import pytest

from rl.train.metrics import refuse_stale_run


def test_fresh_run_refuses_a_previous_runs_directory_and_resume_accepts_it(tmp_path):
    refuse_stale_run(tmp_path / "new", resume=False)  # nothing there yet
    (tmp_path / "toolgym_config.json").write_text("{}")
    refuse_stale_run(tmp_path, resume=False)  # a config alone is not a run
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n')
    with pytest.raises(FileExistsError, match=r"holds a previous run \(checkpoint-4, metrics.jsonl\).*--resume"):
        refuse_stale_run(tmp_path, resume=False)
    refuse_stale_run(tmp_path, resume=True)
