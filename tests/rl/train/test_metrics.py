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


def test_a_rollout_table_shows_its_own_steps_rollouts_though_rows_wait_for_the_checkpoint(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace

    import wandb

    from rl.train.metrics import RunLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    latest = {"rollouts_of_step": 0}  # what the bridge's latest rollouts are, as the run goes on

    def table(step):
        t = wandb.Table(columns=["rollouts_of_step"])
        t.add_data(latest["rollouts_of_step"])
        return {"rollouts": t}

    logger = RunLogger(str(tmp_path), "wandb", "toolgym-test", "tables", {}, extra_rows=table)
    state = SimpleNamespace(is_world_process_zero=True, global_step=0)
    logger.on_train_begin(None, state, None)
    for step in (1, 2, 3, 4):
        latest["rollouts_of_step"] = state.global_step = step
        logger.on_log(None, state, None, logs={"loss": 0.5})
        if step == 4:  # rows wait for the checkpoint that holds their step, as with save_steps 4
            logger.on_save(None, state, None)
    logger.on_train_end(None, state, None)
    files = list(tmp_path.glob("wandb/offline-run-*/files/media/table/rollouts_*.table.json"))
    tables = {int(p.name.split("_")[1]): json.loads(p.read_text())["data"] for p in files}
    assert tables == {1: [[1]], 2: [[2]], 3: [[3]], 4: [[4]]}
