"""Evaluation on BFCL v4 and on toolgym's held-out tasks, with the training engine and formats.

    results = evaluate(cfg, "toolgym", load_tasks(cfg.data, "test", n=400), workers=2)
    write_outputs(results, "results.json")        # + results.md (table) + results.png (chart)
    compare(load("a.json"), load("b.json"))       # per-category deltas, paired bootstrap 95% CIs

Verdicts:
    BFCL AST categories: the strict verdict of rewards.ast_match on the first turn (Java/JavaScript with
    BFCL's type rules for them).
    BFCL irrelevance / live_irrelevance: no call.  live_relevance: at least one call (BFCL's rule).
    BFCL multi_turn_*: BFCL's multi-turn execution checker on its own API classes.
    BFCL format_sensitivity: the base task's AST verdict on the reply to one of BFCL's prompt variants, parsed in
    that variant's return format (envs/bfcl_formats.py); results["format_sensitivity"] has each variant's accuracy.
    BFCL memory_kv / memory_rec_sum: the scenario's prerequisite conversations are played first, with the same
    policy (envs/bfcl_memory.py); then each question, scored on its final reply by rewards.agentic.
    BFCL summaries and the overall score: rl/eval/bfcl_score.py (N/A unless every part ran, and a labelled
    partial score beside it).
    toolgym: strict AST accuracy (every turn), execution success, and the run's reward.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envs.open_world import is_open
from envs.types import Episode, Task
from rewards.compose import without_searches
from rl.config import EvalRunConfig
from rl.eval import bfcl_score
from rl.rollout.episodes import Trajectory

# The BFCL categories that run here, in BFCL's order; the others are listed with the reason in bfcl_score.NOT_RUN.
BFCL_CATEGORIES = [c for c in bfcl_score.ALL_CATEGORIES if c not in bfcl_score.NOT_RUN]


# ---------------------------------------------------------------------------------------------------
# Running episodes
# ---------------------------------------------------------------------------------------------------


class EpisodePlayer:
    """Greedy episodes of one model, in this process or on Ray rollout workers, yielded a unit at a time as each unit
    finishes (a batch; with workers, one batch per worker).

    The workers start on the first call and serve every later one, until `close`: an evaluation's one-message and
    multi-message tasks, BFCL memory's prerequisite conversations, and every benchmark that a caller evaluates with
    the same player. Each start of 2 workers cost about 10 s on the 2-core machine (the demo's BFCL evaluation of
    a model took 36 s instead of 45 s once it reused the workers of its toolgym evaluation). After `use` with a
    config that differs only in its model, the same workers load that model (`RolloutPool.switch_policy`).

    Args:
        cfg: The evaluation config (model, format, rollout limits); `cfg.rollout.max_turns` is the default limit.
        workers: Ray rollout workers; 0 plays in this process.
    """

    def __init__(self, cfg: EvalRunConfig, workers: int = 0) -> None:
        self.cfg = cfg
        self.workers = workers
        self._pool: Any = None
        self._pool_cfg: EvalRunConfig | None = None  # the config the pool's workers were built for
        self._runner: Any = None
        self._runner_cfg: EvalRunConfig | None = None

    def use(self, cfg: EvalRunConfig) -> None:
        """Plays `cfg` from the next call on. Running workers load its model then if nothing else differs;
        otherwise they stop, and new ones start."""
        self.cfg = cfg

    def play(self, tasks: list[Task], *, batch_size: int = 16, max_turns: int | None = None,
             done: frozenset[str] = frozenset()) -> Iterator[list[Trajectory]]:
        """Plays `tasks` greedily, with at most `max_turns` assistant messages per user turn (default: the config's).

        Tasks are sorted by prompt size before batching, so a batch holds similar lengths (little padding). The
        units are cut from the whole of `tasks`, and a unit whose tasks are all in `done` is skipped: a resumed
        evaluation plays every other task in the very batch it had, so its greedy replies are the same.
        """
        order = sorted(range(len(tasks)), key=lambda i: len(json.dumps(tasks[i].tools)) + len(json.dumps(tasks[i].turns)))
        batches = [[tasks[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]
        per_unit = max(self.workers, 1)
        units = [[t for b in batches[k : k + per_unit] for t in b] for k in range(0, len(batches), per_unit)]
        units = [u for u in units if not all(t.id in done for t in u)]
        if not units:
            return
        if self.workers > 0:
            import ray

            pool = self._started_pool()
            # The pool shards a unit over its workers, a whole batch each: all workers busy at once.
            pending = [pool.rollout.remote([{"task": t, "seed": None, "sample_index": 0} for t in u], max_turns)
                       for u in units]
            for ref in pending:
                yield ray.get(ref)[0]
        else:
            runner = self._started_runner()
            for u in units:
                yield runner.run(u, [None] * len(u), max_turns=max_turns)[0]

    def close(self) -> None:
        """Stops the rollout workers (their CPUs and memory are freed); a later `play` starts new ones."""
        if self._pool is not None:
            import ray

            ray.kill(self._pool)
            self._pool = None

    def __enter__(self) -> EpisodePlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _started_pool(self) -> Any:
        from rl.models import absolute_spec
        from rl.rollout.setup import RolloutSetup

        cfg = self.cfg  # workers run in other directories: a relative checkpoint path becomes absolute
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name_or_path=absolute_spec(cfg.model.name_or_path)))
        setup = RolloutSetup.of(cfg).with_workers(self.workers)
        if self._pool is not None and self._pool_cfg != self.cfg:
            if dataclasses.replace(self.cfg, model=self._pool_cfg.model) == self._pool_cfg:
                import ray

                ray.get(self._pool.switch_policy.remote(setup))
            else:
                self.close()
        if self._pool is None:
            from rl.rollout.pool import RolloutPool

            self._pool = RolloutPool.remote(setup)
        self._pool_cfg = self.cfg
        return self._pool

    def _started_runner(self) -> Any:
        if self._runner is None or self._runner_cfg != self.cfg:
            from rl.checkpoint import load_policy
            from rl.rollout.setup import RolloutSetup, build_runner

            self._runner = None  # freed before the next model loads
            m = self.cfg.model
            model, tok = load_policy(m.name_or_path, dtype=m.dtype, allow_download=m.allow_download, fmt=self.cfg.format)
            self._runner, self._runner_cfg = build_runner(RolloutSetup.of(self.cfg), model, tok), self.cfg
        return self._runner


class TaskJournal:
    """The rows of finished tasks, appended to a JSONL file as they finish, so that a killed evaluation resumes.

    The first line records what the rows depend on (model, benchmark, format, decoding, limits, data version and
    the task ids). A journal written for anything else is started over, never mixed in. Each unit of tasks is
    appended in one write and synced; a line cut short by a kill is ignored, and its unit runs again.
    """

    def __init__(self, path: str | Path, header: dict[str, Any]) -> None:
        self.path = Path(path)
        self.rows: dict[str, dict[str, Any]] = {}
        self.note = ""
        header = json.loads(json.dumps(header))
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.is_file() else []
        if lines and _json_or_none(lines[0]) == {"header": header}:
            for line in lines[1:]:
                row = _json_or_none(line)
                if isinstance(row, dict) and "id" in row:
                    self.rows[row["id"]] = row
            self.note = f"resuming from {self.path}: {len(self.rows)} task(s) already evaluated"
        else:
            if lines:
                self.note = f"{self.path} was written for another evaluation; starting over"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"header": header}) + "\n", encoding="utf-8")

    def append(self, rows: list[dict[str, Any]]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(_nan_to_none(r)) + "\n" for r in rows))
            f.flush()
            os.fsync(f.fileno())
        self.rows.update((r["id"], r) for r in rows)


def _json_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


# ---------------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------------


def is_one_shot(task: Task) -> bool:
    """Whether a task is judged on the policy's first message alone, so that its episode stops there instead of
    generating follow-ups nobody scores: a task without a world to act in (BFCL's AST categories: a schema-only
    env), unless it is in open mode, where the first message searches and the calls come after."""
    return not task.domains and "bfcl_involved_classes" not in task.metadata and not is_open(task)


def bfcl_verdict(task: Task, tr: Trajectory) -> bool:
    """BFCL's pass/fail for one episode (see module docstring)."""
    from rewards import ast_match

    scoring = task.metadata.get("bfcl_scoring", "ast")
    # Open mode: the searches only find the tools; BFCL judges the calls made with them.
    episode = without_searches(tr.episode) if is_open(task) else tr.episode
    calls = episode.calls(0)
    if scoring == "irrelevance":
        return not calls
    if scoring == "relevance":
        return bool(calls)
    if scoring == "agentic":
        from rewards import agentic

        return agentic.check(task, episode).valid
    if scoring == "multi_turn":
        from envs.bfcl import check_multi_turn, result_text

        turns = len(task.turns)
        results = [[result_text(r) for r in episode.results(k)] for k in range(turns)]
        states = list(episode.turn_states) + [episode.final_state] * (turns - len(episode.turn_states))
        return bool(check_multi_turn(task, results, states[:turns])["valid"])
    tools, language = ast_match.task_rules(task)  # Java/JavaScript: the declared types and BFCL's rules for them
    return ast_match.check(tools, calls, task.ground_truth[0], language).valid


def task_row(task: Task, tr: Trajectory, benchmark: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": task.id,
        "category": task.metadata.get("bfcl_category", task.category) if benchmark == "bfcl" else task.category,
        "domain": "+".join(task.domains) or "-",
        "reward": tr.rewards.get("total", 0.0),
        "tokens": sum(tr.env_mask),
        "answer": tr.episode.steps[0].text[:300] if tr.episode.steps else "",
    }
    if benchmark == "bfcl":
        row["valid"] = bfcl_verdict(task, tr)
        if "bfcl_prompt_format" in task.metadata:
            row["prompt_format"] = task.metadata["bfcl_prompt_format"]
        if "bfcl_memory_prereqs" in task.metadata:  # the prerequisite conversations played before this question
            row["memory_prereqs"] = task.metadata["bfcl_memory_prereqs"]
    else:
        row["ast_valid"] = bool(tr.reward_details.get("ast", {}).get("valid", False))
        row["exec_valid"] = bool(tr.reward_details.get("execution", {}).get("valid", False))
        row["valid"] = row["ast_valid"]
    if is_open(task):  # open mode: did it find the golden tools, and with how many searches
        from rewards import retrieval

        found = retrieval.check(task, tr.episode).details
        # Recall is over the tasks that have golden tools; an irrelevance task has none to find (None).
        row["retrieval_recall"] = found["recall"] if found["golden"] else None
        row["searches"] = found["searches"]
    return row


# ---------------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------------


def _mean_of(rows: list[dict[str, Any]], metric: str) -> float:
    """The metric's mean over the rows that have a value for it (None: nothing to measure on that task)."""
    xs = [float(r[metric]) for r in rows if r.get(metric) is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def aggregate(rows: list[dict[str, Any]], benchmark: str) -> dict[str, Any]:
    """Per-category (and, for toolgym, per-domain) accuracy, plus BFCL's summaries."""
    by_cat: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r)
    metrics = ["valid", "reward"] if benchmark == "bfcl" else ["ast_valid", "exec_valid", "reward"]
    if rows and "retrieval_recall" in rows[0]:
        metrics += ["retrieval_recall", "searches"]
    cats = {c: {"n": len(rs), **{m: _mean_of(rs, m) for m in metrics}} for c, rs in sorted(by_cat.items())}
    out: dict[str, Any] = {"categories": cats, "overall": {"n": len(rows), **{m: _mean_of(rows, m) for m in metrics}}}
    if benchmark == "bfcl":
        out.update(bfcl_score.summarize({c: (v["valid"], v["n"]) for c, v in cats.items()}))
        # Every BFCL category has a key; one that cannot run here says why.
        for c, why in bfcl_score.NOT_RUN.items():
            cats[c] = {"n": 0, "valid": None, "reward": None, "not_run": why}
        out["categories"] = {c: cats[c] for c in bfcl_score.ALL_CATEGORIES if c in cats}
        variants = [r for r in rows if "prompt_format" in r]
        if variants:
            out["format_sensitivity"] = _format_sensitivity(variants)
    else:
        by_dom: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            by_dom[r["domain"]].append(r)
        out["domains"] = {d: {"n": len(rs), **{m: _mean_of(rs, m) for m in metrics}} for d, rs in sorted(by_dom.items())}
    return out


def _format_sensitivity(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """BFCL's format-sensitivity figures over the rows of its prompt variants (`bfcl_score.format_sensitivity`)."""
    from envs.bfcl_formats import CONFIGS, base_task_ids

    by_config: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_config[r["prompt_format"]].append(r)
    per_config = {c: (_mean_of(by_config[c], "valid"), len(by_config[c])) for c in CONFIGS if c in by_config}
    full = sum(len(ids) for ids in base_task_ids().values())
    complete = set(per_config) == set(CONFIGS) and all(n == full for _, n in per_config.values())
    return bfcl_score.format_sensitivity(per_config, complete)


def evaluate(
    cfg: EvalRunConfig,
    benchmark: str,
    tasks: list[Task],
    *,
    workers: int = 0,
    batch_size: int = 16,
    progress: str = "",
    journal: str | Path | None = None,
    player: EpisodePlayer | None = None,
) -> dict[str, Any]:
    """Plays and scores every task; returns the results document (JSON-serialisable).

    Args:
        cfg: The evaluation config (model, format, rollout limits).
        benchmark: "bfcl" or "toolgym".
        tasks: The tasks, each scored once.
        workers: Ray rollout workers; 0 plays in this process. Ignored when `player` is given.
        batch_size: Tasks per lockstep batch (per worker).
        progress: The progress bar's label.
        journal: A JSONL file of finished tasks (`TaskJournal`). A rerun with the same settings skips them and
            says so, and its results equal an uninterrupted run's.
        player: Plays the episodes, for a caller that evaluates the same model on several benchmarks with one set
            of workers (its config must be `cfg`). Default: a player started and stopped by this call.
    """
    if player is None:
        with EpisodePlayer(cfg, workers) as own:
            return evaluate(cfg, benchmark, tasks, batch_size=batch_size, progress=progress, journal=journal, player=own)
    if player.cfg != cfg:
        raise ValueError("evaluate: the player was started for another config (model, format or limits)")
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    meta = {
        "model": cfg.model.name_or_path,
        "benchmark": benchmark,
        "tools": "open" if any(is_open(t) for t in tasks) else "golden",
        "format": dataclasses.asdict(cfg.format),
        "decoding": "greedy",
        "seed": cfg.data.seed,
        "limits": {"max_turns": cfg.rollout.max_turns, "max_new_tokens": cfg.rollout.max_new_tokens,
                   "max_total_tokens": cfg.rollout.max_total_tokens},
        "data_version": data_version(benchmark),
        "reward_weights": dict(cfg.rewards.components),
    }
    # The journal's rows are reused only under the very settings that made them.
    header = {**meta, "rollout": dataclasses.asdict(cfg.rollout), "env": dataclasses.asdict(cfg.env),
              "model_files": model_files(cfg.model.name_or_path), "tasks": [t.id for t in tasks]}
    log = TaskJournal(journal, header) if journal else None
    rows: dict[str, dict[str, Any]] = dict(log.rows) if log else {}
    if log and log.note:
        print(f"[toolgym] {progress or 'eval'}: {log.note}", flush=True)
    bar = tqdm(total=len(tasks), initial=len(rows), desc=progress or "eval", unit="task", dynamic_ncols=True)
    by_id = {t.id: t for t in tasks}
    one_shot = [t for t in tasks if is_one_shot(t)]
    one_shot_ids = {t.id for t in one_shot}
    acting = [t for t in tasks if t.id not in one_shot_ids]
    if any(t.metadata.get("bfcl_scoring") == "agentic" and t.id not in rows for t in acting):
        acting = _after_prerequisites(player, acting, batch_size, progress)
        by_id.update((t.id, t) for t in acting)
    for group, max_turns in ((one_shot, 1), (acting, cfg.rollout.max_turns)):
        for trajs in player.play(group, batch_size=batch_size, max_turns=max_turns, done=frozenset(rows)):
            new = [task_row(by_id[tr.task_id], tr, benchmark) for tr in trajs]
            if log:
                log.append(new)
            rows.update((r["id"], r) for r in new)
            bar.update(len(new))
    bar.close()
    ordered = [rows[t.id] for t in tasks]
    return {**meta, "wall_s": round(time.perf_counter() - t0, 1), **aggregate(ordered, benchmark), "per_task": ordered}


def _after_prerequisites(player: EpisodePlayer, tasks: list[Task], batch_size: int, progress: str) -> list[Task]:
    """`tasks` with each BFCL memory question starting from the memory that the policy left in its scenario's
    prerequisite conversations (envs/bfcl_memory.py), played here like any multi-turn task and not scored.

    All of them are played even on a resumed run, so that every question gets the prompt and the batch it had."""
    from tqdm.auto import tqdm

    from envs.bfcl_memory import play_prerequisites, prerequisite_chains

    total = sum(len(chain) for chain in prerequisite_chains(tasks).values())
    bar = tqdm(total=total, desc=f"{progress or 'eval'}: memory prerequisites", unit="conversation", dynamic_ncols=True)

    def play(batch: list[Task]) -> list[Episode]:
        episodes = {tr.task_id: tr.episode for trajs in player.play(batch, batch_size=batch_size) for tr in trajs}
        bar.update(len(batch))
        return [episodes[t.id] for t in batch]

    with bar:
        return play_prerequisites(tasks, play)


def model_files(spec: str) -> dict[str, list[int]]:
    """Size and modification time of each file of a checkpoint directory, and of the base it names (an adapter's):
    a journal of another training of the same path is never resumed. Empty for an alias or a hub id."""
    from rl.checkpoint import read_manifest

    out: dict[str, list[int]] = {}
    seen: set[Path] = set()
    path: Path | None = Path(spec)
    while path is not None and path.is_dir() and path.resolve() not in seen:
        seen.add(path.resolve())
        for f in sorted(path.iterdir()):
            if f.is_file():
                st = f.stat()
                out[str(f)] = [st.st_size, st.st_mtime_ns]
        manifest = read_manifest(path)
        path = Path(manifest["base"]) if manifest and manifest.get("base") else None
    return out


def data_version(benchmark: str) -> str:
    """The version of the data a benchmark's tasks come from: the bfcl-eval wheel, or this toolgym's generator."""
    from importlib.metadata import PackageNotFoundError, version

    dist = "bfcl-eval" if benchmark == "bfcl" else "toolgym"
    try:
        return f"{dist}=={version(dist)}"
    except PackageNotFoundError:
        return f"{dist} (not installed as a package)"


# ---------------------------------------------------------------------------------------------------
# Outputs: JSON, Markdown, PNG
# ---------------------------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal; "n/a" for None or NaN (nothing to measure)."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def markdown(results: dict[str, Any]) -> str:
    b = results["benchmark"]
    metrics = ["valid"] if b == "bfcl" else ["ast_valid", "exec_valid"]
    head = "| category | n | " + " | ".join(f"{m} %" for m in metrics) + " | reward |"
    lines = [f"### {b}: {results['model']}", "", head, "|" + "---|" * (len(metrics) + 3)]
    for c, v in results["categories"].items():
        if "not_run" in v:
            continue  # listed under "Not run here"
        lines.append(f"| {c} | {v['n']} | " + " | ".join(pct(v[m]) for m in metrics) + f" | {v['reward']:.3f} |")
    o = results["overall"]
    lines.append(f"| **overall** | {o['n']} | " + " | ".join(pct(o[m]) for m in metrics) + f" | {o['reward']:.3f} |")
    if "retrieval_recall" in o:
        lines += ["", f"Open mode (search_tools over the tool pool): golden-tool recall {pct(o['retrieval_recall'])}%, "
                      f"{o['searches']:.2f} searches per episode."]
    if "summaries" in results:
        partial = results["partial"]
        lines += ["", "| BFCL summary | % (N/A unless every part ran) | % over the parts that ran |", "|---|---|---|"]
        lines += [f"| {k} | {pct(v)} | {pct(partial[k])} |" for k, v in results["summaries"].items()]
        lines += ["", f"Right column: {partial['label']}. The partial overall covers {partial['overall_covers']}."]
        fs = results.get("format_sensitivity")
        if fs:
            lines += ["", f"Format sensitivity (BFCL's prompt variants{'' if fs['complete'] else ', ' + fs['label']}): "
                          f"max delta {fs['accuracy_max_delta']:.2f} points, std {fs['accuracy_std']:.2f} points over "
                          f"{len(fs['configs'])} variants.", "", "| prompt variant | n | valid % |", "|---|---|---|"]
            lines += [f"| {c} | {v['n']} | {pct(v['accuracy'])} |" for c, v in fs["configs"].items()]
        not_run = {c: v["not_run"] for c, v in results["categories"].items() if "not_run" in v}
        lines += ["", "Not run here:"] + [f"- {c}: {why}" for c, why in not_run.items()]
    return "\n".join(lines) + "\n"


def chart(results_list: list[dict[str, Any]], path: str | Path, metric: str | None = None) -> Path:
    """Grouped bar chart of per-category accuracy, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = results_list[0]["benchmark"]
    metric = metric or ("valid" if b == "bfcl" else "ast_valid")
    cats = sorted({c for r in results_list for c, v in r["categories"].items() if "not_run" not in v})
    width = 0.8 / len(results_list)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cats) + 2), 4))
    for k, r in enumerate(results_list):
        vals = [100 * r["categories"].get(c, {}).get(metric, float("nan")) for c in cats]
        ax.bar([i + k * width for i in range(len(cats))], vals, width, label=Path(str(r["model"])).name or r["model"])
    ax.set_xticks([i + width * (len(results_list) - 1) / 2 for i in range(len(cats))], cats, rotation=30, ha="right")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{b}: {metric} by category")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(results: dict[str, Any], out: str | Path) -> dict[str, str]:
    """Writes results.json, results.md and results.png next to each other."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A summary over categories that were not run is NaN in memory; JSON has no NaN (jq and JS reject it).
    out.write_text(json.dumps(_nan_to_none(results), indent=2, allow_nan=False))
    md = out.with_suffix(".md")
    md.write_text(markdown(results))
    png = chart([results], out.with_suffix(".png"))
    return {"json": str(out), "markdown": str(md), "chart": str(png)}


# ---------------------------------------------------------------------------------------------------
# Comparison with paired bootstrap confidence intervals
# ---------------------------------------------------------------------------------------------------


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    return x


def paired_bootstrap(a: list[float], b: list[float], n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of b - a over paired items and its bootstrap 95% CI."""
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    if not diffs:
        return float("nan"), float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_boot))
    return sum(diffs) / n, means[int(0.025 * n_boot)], means[int(0.975 * n_boot) - 1]


def compare(a: dict[str, Any], b: dict[str, Any], metrics: list[str] | None = None) -> dict[str, Any]:
    """Per-category deltas (b - a) of each metric, paired by task id, with bootstrap 95% CIs."""
    metrics = metrics or (["valid", "reward"] if a["benchmark"] == "bfcl" else ["ast_valid", "exec_valid", "reward"])
    rows_a = {r["id"]: r for r in a["per_task"]}
    rows_b = {r["id"]: r for r in b["per_task"]}
    if all("retrieval_recall" in r for r in [*rows_a.values(), *rows_b.values()]):
        metrics = [*metrics, "retrieval_recall"]  # both in open mode
    common = [i for i in rows_a if i in rows_b]
    groups: dict[str, list[str]] = defaultdict(list)
    for i in common:
        groups[rows_a[i]["category"]].append(i)
    groups = dict(sorted(groups.items()))
    groups["overall"] = common
    out: dict[str, Any] = {"a": a["model"], "b": b["model"], "n_common": len(common), "deltas": {}}
    for g, ids in groups.items():
        out["deltas"][g] = {}
        for m in metrics:
            paired = [i for i in ids if rows_a[i].get(m) is not None and rows_b[i].get(m) is not None]
            mean, lo, hi = paired_bootstrap([float(rows_a[i][m]) for i in paired], [float(rows_b[i][m]) for i in paired])
            out["deltas"][g][m] = {"n": len(paired), "delta": mean, "ci95": [lo, hi]}
    return out


def compare_markdown(cmp: dict[str, Any]) -> str:
    metrics = list(next(iter(cmp["deltas"].values())).keys())
    lines = [f"Δ = {cmp['b']} − {cmp['a']} (paired bootstrap 95% CI, {cmp['n_common']} common tasks)", "",
             "| category | n | " + " | ".join(f"Δ {m}" for m in metrics) + " |", "|" + "---|" * (len(metrics) + 2)]
    for g, d in cmp["deltas"].items():
        cells = []
        for m in metrics:
            v = d[m]
            scale = 1 if m == "reward" else 100
            cells.append(f"{scale * v['delta']:+.2f} [{scale * v['ci95'][0]:+.2f}, {scale * v['ci95'][1]:+.2f}]")
        lines.append(f"| {g} | {d[metrics[0]]['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
