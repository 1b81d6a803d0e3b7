"""The one place tasks are loaded and split into train and test.

    load_tasks(cfg.data, "train")          # what SFT and RL train on
    load_tasks(cfg.data, "test", n=400)    # what evaluation scores

The split rule:
- `generate`: train draws with `data.seed`, test with `data.seed + 1`; envs.tasks also holds phrasings,
  entities and some domains out of the test split, so the two never overlap.
- `jsonl`: `train_path` is the train split, `eval_path` the test split. A split without its file is an error,
  never a fall-back to the other file.
- `bfcl`: BFCL v4 is benchmark data, so it is the test split only; training on it is an error.
"""

from __future__ import annotations

import random
from typing import Literal

from envs.types import Task, read_tasks
from rl.config import DataConfig

Split = Literal["train", "test"]


class SplitError(ValueError):
    """The data source has no such split."""


def split_seed(seed: int, split: Split) -> int:
    """The generator seed of a split: train and test never share a draw."""
    return seed if split == "train" else seed + 1


def load_tasks(data: DataConfig, split: Split, n: int | None = None) -> list[Task]:
    """Tasks of one split as the data config describes.

    Args:
        data: The data section.
        split: "train" or "test".
        n: How many (default: `data.train_size` or `data.eval_size`). For `bfcl`, split evenly over
            `data.bfcl_categories` (at least one each).

    Raises:
        SplitError: the source has no such split (a jsonl file not given, BFCL for training).
    """
    tasks = _load(data, split, n)
    if split == "train" and data.near_miss_ratio > 0:
        tasks = with_near_misses(tasks, data.near_miss_ratio, seed=data.seed, pairs=data.near_miss_pairs)
    if data.tools == "open":
        from envs.open_world import open_task

        tasks = [open_task(t) for t in tasks]
    return tasks


def _load(data: DataConfig, split: Split, n: int | None) -> list[Task]:
    if split not in ("train", "test"):
        raise SplitError(f"split: {split!r} is not 'train' or 'test'")
    n = n if n is not None else (data.train_size if split == "train" else data.eval_size)
    if data.source == "generate":
        from envs.tasks import generate

        return generate(n, split, seed=split_seed(data.seed, split), categories=data.categories, domains=data.domains)
    if data.source == "jsonl":
        path = data.train_path if split == "train" else data.eval_path
        if not path:
            key = "train_path" if split == "train" else "eval_path"
            raise SplitError(f"data.{key}: the jsonl source has no {split} split without it")
        return read_tasks(path)[:n]
    if split == "train":
        raise SplitError("data.source: bfcl is benchmark data (a test split only); train on generated or jsonl tasks")
    from envs import bfcl

    per = max(1, n // len(data.bfcl_categories))
    return [t for c in data.bfcl_categories for t in bfcl.load(c, limit=per)]


def with_near_misses(tasks: list[Task], ratio: float, seed: int, pairs: bool = False) -> list[Task]:
    """Replaces `ratio` of the calling tasks, drawn with `seed`, by their near-miss abstaining variants.

    A calling task loses the tools its answer needs; where none is left, it offers one unneeded tool of its domain
    (envs.tasks.non_fc_variant).

    Args:
        tasks: The training tasks.
        ratio: The share of calling tasks that get a near miss.
        seed: Draws the tasks and the near-miss tools.
        pairs: Keep each drawn task and put its variant right after it; otherwise the variant takes its place.
            The variants are the same either way.
    """
    from envs.tasks import non_fc_variant

    rng = random.Random(seed)
    calling = [i for i, t in enumerate(tasks) if any(turn for turn in t.ground_truth)]
    variants = {i: non_fc_variant(tasks[i], rng) for i in sorted(rng.sample(calling, round(len(calling) * ratio)))}
    out: list[Task] = []
    for i, task in enumerate(tasks):
        if i not in variants:
            out.append(task)
        else:
            out += [task, variants[i]] if pairs else [variants[i]]
    return out


def paired_order(tasks: list[Task], seed: int) -> list[Task]:
    """`tasks` in a seeded random order that keeps each near miss right after its source task.

    A near miss (with_near_misses with pairs) moves with its source, so a step's consecutive slice of the order
    trains both (the two split only where a step boundary falls between them).
    """
    from envs.tasks import NON_FC_SUFFIX

    units: dict[str, list[Task]] = {}
    for t in tasks:
        units.setdefault(t.id.removesuffix(NON_FC_SUFFIX), []).append(t)
    order = list(units.values())
    random.Random(seed).shuffle(order)
    return [t for unit in order for t in unit]


def stratified_order(tasks: list[Task], seed: int) -> list[Task]:
    """`tasks` with their categories dealt in turn: each round takes one task of every category that has some left,
    the categories in a fresh random order each round, each category's tasks in a random order (both from `seed`).

    So every run of len(categories) consecutive tasks holds each category once, as long as every category has tasks
    left; a step of `prompts_per_step` tasks sees the categories in equal shares.
    """
    rng = random.Random(seed)
    by_category: dict[str, list[Task]] = {}
    for t in tasks:
        by_category.setdefault(t.category, []).append(t)
    for group in by_category.values():
        rng.shuffle(group)
    order: list[Task] = []
    while any(by_category.values()):
        deal = sorted(c for c, group in by_category.items() if group)
        rng.shuffle(deal)
        order += [by_category[c].pop() for c in deal]
    return order


def load_eval_tasks(data: DataConfig, entries: list[str], n: int) -> dict[str, list[Task]]:
    """The tasks of an RL run's evaluations during training (`eval.tasks`), `n` per entry, in the run's tool mode.

    Args:
        data: The run's data section; "toolgym" is its held-out split.
        entries: "toolgym" and/or BFCL category names.
        n: Tasks per entry (BFCL: the category's first n).
    """
    from envs import bfcl
    from envs.open_world import open_task

    def bfcl_tasks(category: str) -> list[Task]:
        tasks = bfcl.load(category, limit=n)
        return [open_task(t) for t in tasks] if data.tools == "open" else tasks

    return {e: load_tasks(data, "test", n) if e == "toolgym" else bfcl_tasks(e) for e in entries}
