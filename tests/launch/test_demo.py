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


def test_the_demo_samples_bfcl_irrelevance_across_its_file_and_the_other_categories_from_their_start():
    from collections import Counter

    from launch.demo import DemoPlan, _eval_tasks
    from rl.config import load_config

    plan = DemoPlan(toolgym_tasks=8)
    toolgym, bfcl = _eval_tasks(plan, load_config(plan.eval_config, stage="eval"))
    counts = Counter(t.metadata["bfcl_category"] for t in bfcl)
    assert len(toolgym) == 8 and list(counts) == list(plan.bfcl_categories)
    irrelevance = [t.id for t in bfcl if t.metadata["bfcl_category"] == "irrelevance"]
    assert len(irrelevance) == 60 and irrelevance[:2] == ["irrelevance_0", "irrelevance_4"]  # every 4th of 240
    assert irrelevance[-1] == "irrelevance_236"  # reaches the file's last topics
    assert {c: n for c, n in counts.items() if c != "irrelevance"} == dict.fromkeys(counts.keys() - {"irrelevance"}, 20)
    assert bfcl[0].id == "simple_python_0"  # the first tasks, in the file's order
