"""Demo stages: a finished stage is reused by fingerprint; a changed one reruns from an empty directory."""

from launch.common import Stages


def test_stage_reused_by_fingerprint_and_rerun_from_an_empty_workdir(tmp_path):
    work = tmp_path / "grpo"
    calls = []

    def stage():
        calls.append(sorted(p.name for p in work.iterdir()) if work.exists() else None)
        work.mkdir(exist_ok=True)
        (work / "metrics.jsonl").write_text("old\n")
        return {"n": len(calls)}

    stages = Stages(tmp_path)
    assert stages.run("grpo", "fp1", stage, workdir=work) == {"n": 1}
    again = Stages(tmp_path)
    assert again.run("grpo", "fp1", stage, workdir=work) == {"n": 1}  # reused from stages.json
    assert again.reused == ["grpo"] and stages.reused == []
    assert len(calls) == 1 and (work / "metrics.jsonl").is_file()
    assert Stages(tmp_path).run("grpo", "fp2", stage, workdir=work) == {"n": 2}
    assert calls[1] is None  # the old stage's files were gone before the rerun started
