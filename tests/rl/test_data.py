"""The split rule, written once (rl/data.py): train and test never share tasks, and a missing split is an error."""

import dataclasses

import pytest

from envs.schema import tool_name
from envs.tasks import generate
from rl.config import DataConfig
from rl.data import SplitError, load_tasks, paired_order, stratified_order, with_near_misses


def test_generated_splits_use_their_own_seeds_and_never_overlap():
    data = DataConfig(seed=10, train_size=40, eval_size=40)
    train, test = load_tasks(data, "train"), load_tasks(data, "test")
    assert [t.id for t in test] == [t.id for t in generate(40, "test", seed=11)]  # what the demo evaluates
    assert [t.to_json() for t in train] == [t.to_json() for t in generate(40, "train", seed=10)]
    assert not {t.id for t in train} & {t.id for t in test}
    assert not {t.turns[0][0]["content"] for t in train} & {t.turns[0][0]["content"] for t in test}
    assert len(load_tasks(data, "test", n=7)) == 7


def test_jsonl_split_without_its_file_is_an_error_not_the_other_file(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(t.to_json() + "\n" for t in generate(5, "train", seed=0)))
    data = DataConfig(source="jsonl", train_path=str(path))
    assert len(load_tasks(data, "train")) == 5
    with pytest.raises(SplitError, match="data.eval_path: the jsonl source has no test split"):
        load_tasks(data, "test")
    only_eval = dataclasses.replace(data, train_path=None, eval_path=str(path))
    assert len(load_tasks(only_eval, "test")) == 5
    with pytest.raises(SplitError, match="data.train_path"):
        load_tasks(only_eval, "train")


def test_bfcl_is_test_data_only_and_split_over_its_categories():
    data = DataConfig(source="bfcl", bfcl_categories=["simple_python", "irrelevance"], eval_size=6)
    tasks = load_tasks(data, "test")
    assert [t.metadata["bfcl_category"] for t in tasks] == ["simple_python"] * 3 + ["irrelevance"] * 3
    with pytest.raises(SplitError, match="bfcl is benchmark data"):
        load_tasks(data, "train")


def test_stratified_order_deals_every_category_once_per_round():
    data = DataConfig(source="generate", train_size=256, seed=10)  # the demo's GRPO tasks
    tasks = load_tasks(data, "train")
    order = stratified_order(tasks, seed=0)
    assert sorted(t.id for t in order) == sorted(t.id for t in tasks)  # the same tasks, each once
    n_cat = len({t.category for t in tasks})
    rounds = [order[k : k + n_cat] for k in range(0, len(order), n_cat)]
    assert all(len({t.category for t in r}) == len(r) for r in rounds)  # no category twice in a round
    # Steps of 8 tasks (the demo's prompts_per_step) each hold every category once.
    assert all(len({t.category for t in order[k : k + 8]}) == 8 for k in range(0, 64, 8))
    assert [t.id for t in stratified_order(tasks, seed=0)] == [t.id for t in order]  # seeded
    assert [t.id for t in stratified_order(tasks, seed=1)] != [t.id for t in order]


def test_grpo_keeps_the_stratified_order_and_shuffles_otherwise():
    from rl.config import load_config
    from rl.train.grpo import grpo_args

    for order, shuffled in (("stratified", False), ("paired", False), ("shuffled", True)):
        pairs = [f"data.near_miss_pairs={order == 'paired'}"]
        cfg = load_config("configs/demo.yaml", [f"algorithm.task_order={order}", *pairs], stage="rl")
        assert grpo_args(cfg, 1, None, [1.0] * len(cfg.rewards.components)).shuffle_dataset is shuffled


def test_near_misses_replace_a_share_of_the_calling_training_tasks_in_place():
    data = DataConfig(seed=10, train_size=64, near_miss_ratio=0.25)
    plain, mixed = load_tasks(dataclasses.replace(data, near_miss_ratio=0.0), "train"), load_tasks(data, "train")
    calling = [t for t in plain if any(t.ground_truth)]
    changed = [(a, b) for a, b in zip(plain, mixed, strict=True) if a.id != b.id]
    assert len(changed) == round(len(calling) * 0.25) > 0
    for a, b in changed:
        assert b.id == a.id + "/non_fc" and b.category == "irrelevance" and b.ground_truth == [[]] and b.tools
        assert not {name for turn in a.ground_truth for call in turn for name in call} & {tool_name(t) for t in b.tools}
    assert [t.id for t in load_tasks(data, "test")] == [t.id for t in load_tasks(dataclasses.replace(data, near_miss_ratio=0.0), "test")]
    assert [t.id for t in with_near_misses(plain, 0.25, seed=10)] == [t.id for t in mixed]  # seeded
    with pytest.raises(ValueError, match="near_miss_ratio"):
        DataConfig(near_miss_ratio=1.0)


def test_near_miss_pairs_keep_the_source_task_and_the_paired_order_keeps_the_two_together():
    data = DataConfig(seed=10, train_size=64, near_miss_ratio=0.25, near_miss_pairs=True)
    replaced = load_tasks(dataclasses.replace(data, near_miss_pairs=False), "train")
    paired = load_tasks(data, "train")
    variants = [t for t in paired if t.id.endswith("/non_fc")]
    assert len(paired) == 64 + len(variants) and variants
    # The same variants as in place of their sources, each now right after its source.
    assert [t.to_json() for t in variants] == [t.to_json() for t in replaced if t.id.endswith("/non_fc")]
    for v in variants:
        i = [t.id for t in paired].index(v.id)
        assert paired[i - 1].id + "/non_fc" == v.id and any(paired[i - 1].ground_truth)
    order = paired_order(paired, seed=0)
    assert sorted(t.id for t in order) == sorted(t.id for t in paired)
    assert [t.id for t in order] != [t.id for t in paired]  # shuffled, seeded
    assert [t.id for t in paired_order(paired, seed=0)] == [t.id for t in order]
    ids = [t.id for t in order]
    assert all(ids[ids.index(v.id) - 1] + "/non_fc" == v.id for v in variants)


def test_paired_order_and_near_miss_pairs_come_together():
    from rl.config import load_config

    pairs, paired = "data.near_miss_pairs=true", "algorithm.task_order=paired"
    cfg = load_config("configs/demo.yaml", [pairs, paired], stage="rl")
    assert cfg.data.near_miss_pairs and cfg.algorithm.task_order == "paired"
    with pytest.raises(ValueError, match="task_order"):
        load_config("configs/demo.yaml", ["data.near_miss_pairs=false", paired], stage="rl")
    with pytest.raises(ValueError, match="task_order"):
        load_config("configs/demo.yaml", [pairs, "algorithm.task_order=shuffled"], stage="rl")
    with pytest.raises(ValueError, match="near_miss_pairs"):
        DataConfig(near_miss_pairs=True)
