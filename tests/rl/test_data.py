"""The split rule, written once (rl/data.py): train and test never share tasks, and a missing split is an error."""

import dataclasses

import pytest

from envs.tasks import generate
from rl.config import DataConfig
from rl.data import SplitError, load_tasks


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
