"""The main job on the embedded default: `make demo` (SmolLM2-135M-Instruct, local Ray, CPU).

    stages:  sft -> grpo -> eval (base, sft, grpo on toolgym held-out + a BFCL subset) -> export -> report

Each stage records what it produced in `<out>/stages.json` with a fingerprint of its inputs; a rerun skips
stages whose fingerprint still matches (`--fresh` redoes everything). The base model's evaluation is cached
under $TOOLGYM_CACHE, since the base model never changes. Training stages run as child processes
(launch/sft.py, launch/grpo.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rl.config import EvalRunConfig, load_config, to_dict  # noqa: E402
from rl.models import cache_dir  # noqa: E402


@dataclasses.dataclass
class DemoPlan:
    """What the demo runs; the defaults are the committed configs."""

    out: Path = Path("runs/demo")
    sft_config: Path = ROOT / "configs" / "sft_smollm2.yaml"
    grpo_config: Path = ROOT / "configs" / "demo.yaml"
    eval_config: Path = ROOT / "configs" / "demo_eval.yaml"
    # Held-out tasks for the paired bootstrap. 400, not 200: GRPO moved held-out reward by about +0.04, and
    # at 200 tasks the CI95 half-width was 0.05 (README, Results). An evaluation took 295 s, not 175 s.
    toolgym_tasks: int = 400
    bfcl_per_category: int = 5
    bfcl_categories: tuple[str, ...] = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "live_simple")
    eval_workers: int = 2
    # Greedy lockstep decoding amortises each forward over the batch: with 2 workers, batches of 48 ran
    # 1.03 task/s here against 0.62 for batches of 16.
    eval_batch_size: int = 50


class Stages:
    """Remembers finished stages and their fingerprints (in `<out>/stages.json`)."""

    def __init__(self, out: Path) -> None:
        self.path = out / "stages.json"
        self.done: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.t0 = time.perf_counter()
        self.reused: list[str] = []  # stages this invocation took from an earlier run

    def run(self, name: str, fingerprint: str, fn: Callable[[], dict[str, Any]], workdir: Path | None = None) -> dict[str, Any]:
        """Runs `fn` unless the stage finished with this fingerprint; a rerun starts from an empty `workdir`
        (a changed recipe must not resume, or log into, the outputs of the old one)."""
        prev = self.done.get(name)
        if prev and prev.get("fingerprint") == fingerprint:
            print(f"[demo] {name}: reusing the finished stage (fresh=True to redo)", flush=True)
            self.reused.append(name)
            return prev["result"]
        if workdir is not None and workdir.exists():
            shutil.rmtree(workdir)
        print(f"\n[demo] ===== {name} (t+{self.elapsed()}) =====", flush=True)
        t = time.perf_counter()
        result = fn()
        self.done[name] = {"fingerprint": fingerprint, "result": result, "seconds": round(time.perf_counter() - t, 1)}
        self.path.write_text(json.dumps(self.done, indent=2))
        print(f"[demo] {name} done in {time.perf_counter() - t:.0f} s", flush=True)
        return result

    def elapsed(self) -> str:
        from rl.eval.report import mmss

        return mmss(time.perf_counter() - self.t0)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_demo(plan: DemoPlan, fresh: bool = False) -> Path:
    """Runs every stage and writes `<out>/report.md`; returns its path."""
    out = plan.out
    if fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(out)

    sft_final = out / "sft" / "final"
    sft_over = [f"trainer.output_dir={(out / 'sft').resolve()}", "logging.run_name=demo-sft"]
    grpo_over = [f"trainer.output_dir={(out / 'grpo').resolve()}", f"model.name_or_path={sft_final.resolve()}"]
    sft_cfg = load_config(plan.sft_config, sft_over, stage="sft")  # loaded here too: a bad config fails before any work
    grpo_cfg = load_config(plan.grpo_config, grpo_over, stage="rl")
    eval_cfg = load_config(plan.eval_config, stage="eval")

    # 1. SFT --------------------------------------------------------------------------------------
    fp_sft = fingerprint(to_dict(sft_cfg))
    sft = stages.run("sft", fp_sft, lambda: _sft(plan.sft_config, sft_over), workdir=out / "sft")

    # 2. GRPO on Ray rollout workers ---------------------------------------------------------------
    fp_grpo = fingerprint(fp_sft, to_dict(grpo_cfg))
    grpo = stages.run("grpo", fp_grpo, lambda: _grpo(plan.grpo_config, grpo_over), workdir=out / "grpo")

    # 3. Evaluation: base (cached across runs), SFT, GRPO ------------------------------------------
    toolgym_tasks, bfcl_tasks = _eval_tasks(plan, eval_cfg)
    fp_tasks = fingerprint(to_dict(eval_cfg), plan.toolgym_tasks, plan.bfcl_per_category, plan.bfcl_categories)
    models = {"base": eval_cfg.model.name_or_path, "sft": str(sft_final), "grpo": grpo["final"]}
    results: dict[str, dict[str, dict]] = {}
    for label, spec in models.items():
        fp = fingerprint(fp_tasks, label, fp_sft if label != "base" else "", fp_grpo if label == "grpo" else "")
        results[label] = stages.run(
            f"eval_{label}", fp,
            lambda spec=spec, label=label, fp=fp: _eval_model(plan, eval_cfg, spec, label, fp, toolgym_tasks, bfcl_tasks),
        )

    # 4. Export the GRPO policy --------------------------------------------------------------------
    export = stages.run(
        "export", fingerprint(fp_grpo),
        lambda: _export(grpo["final"], out / "export", [results["grpo"]["toolgym"], results["grpo"]["bfcl"]]),
    )

    # 5. Report ------------------------------------------------------------------------------------
    from rl.eval.report import write_report

    report = write_report(out, results, sft=sft, grpo=grpo, export=export, elapsed=stages.elapsed(), stages=stages.done,
                          reused=stages.reused)
    print(f"\n[demo] report: {report} (t+{stages.elapsed()})", flush=True)
    return report


# ---------------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------------


def _sft(config: Path, overrides: list[str]) -> dict[str, Any]:
    return _child("sft.py", config, overrides)


def _grpo(config: Path, overrides: list[str]) -> dict[str, Any]:
    return _child("grpo.py", config, overrides)


def _child(script: str, config: Path, overrides: list[str]) -> dict[str, Any]:
    """Runs a training stage as `launch/<script>` in a child process and returns its summary.

    A child process, not a call: a trainer's peak memory (activations, logits, optimizer state) stays with
    the process on CPU (the allocator keeps freed pages), and the next stage's Ray workers then ran out of
    memory on this 24 GiB machine.
    """
    import subprocess
    import sys

    cmd = [sys.executable, str(ROOT / "launch" / script), "--config", str(config), *overrides]
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"demo stage failed (exit {proc.returncode}): {' '.join(cmd)}")
    out_dir = next(o.split("=", 1)[1] for o in overrides if o.startswith("trainer.output_dir="))
    return json.loads((Path(out_dir) / "summary.json").read_text())


def _eval_tasks(plan: DemoPlan, cfg: EvalRunConfig):
    from rl.data import load_tasks

    toolgym = load_tasks(cfg.data, "test", n=plan.toolgym_tasks)
    bfcl_data = dataclasses.replace(cfg.data, source="bfcl", bfcl_categories=list(plan.bfcl_categories))
    bfcl_tasks = load_tasks(bfcl_data, "test", n=plan.bfcl_per_category * len(plan.bfcl_categories))
    return toolgym, bfcl_tasks


def _eval_model(plan: DemoPlan, cfg: EvalRunConfig, spec: str, label: str, fp: str, toolgym_tasks, bfcl_tasks) -> dict[str, str]:
    from rl.eval import evaluate as ev
    from rl.ray_utils import init_ray

    cache = cache_dir() / "demo_eval" / fp if label == "base" else None
    outdir = plan.out / "eval"
    paths = {}
    for bench, tasks in (("toolgym", toolgym_tasks), ("bfcl", bfcl_tasks)):
        target = outdir / f"{label}_{bench}.json"
        cached = cache / f"{bench}.json" if cache else None
        if cached is not None and cached.is_file():
            print(f"[demo] eval {label}/{bench}: cached result {cached}", flush=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(cached, target)
        else:
            mcfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name_or_path=spec))
            if plan.eval_workers:
                init_ray(plan.eval_workers * cfg.rollout.cpus_per_worker)
            res = ev.evaluate(mcfg, bench, tasks, workers=plan.eval_workers, batch_size=plan.eval_batch_size, progress=f"eval {label}/{bench}")
            ev.write_outputs(res, target)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(target, cached)
        paths[bench] = str(target)
    return paths


def _export(checkpoint: str, out: Path, results: list[str]) -> dict[str, Any]:
    from rl.eval.export import export

    return export(checkpoint, out, results=results)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fresh", action="store_true", help="redo every stage")
    ap.add_argument("--out", default="runs/demo")
    args = ap.parse_args(argv)
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    report = run_demo(DemoPlan(out=Path(args.out)), fresh=args.fresh)
    print(report.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
