"""Typed configs: every file in configs/ loads as its stage, and mistakes are named by file, line and key path."""

from pathlib import Path

import pytest

from rl.config import STAGES, ConfigError, EvalRunConfig, RLRunConfig, SFTRunConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILES = sorted((ROOT / "configs").glob("*.yaml"))


def _stage(path: Path) -> str:
    """The stage a committed config is for, by its name (sft_*.yaml, *eval*.yaml, else RL)."""
    return "sft" if path.name.startswith("sft") else "eval" if "eval" in path.name else "rl"


def test_there_are_configs_of_every_stage():
    assert {"demo.yaml", "smoke.yaml"} <= {p.name for p in CONFIG_FILES}
    assert {_stage(p) for p in CONFIG_FILES} == set(STAGES)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_every_config_file_loads_as_its_stage(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # deepspeed paths in configs are relative to the repository root
    stage = _stage(path)
    assert isinstance(load_config(path, stage=stage), STAGES[stage])
    if stage != "eval":  # an eval config's sections are a subset of an RL config's
        with pytest.raises(ConfigError, match=r"belongs to the .*stage"):
            load_config(path, stage="sft" if stage == "rl" else "rl")


@pytest.mark.parametrize(
    "stage,text,key,owner",
    [
        ("sft", "algorithm:\n  beta: 0.1\n", "algorithm", "rl"),
        ("sft", "trainer:\n  deepspeed: configs/deepspeed/zero2.json\n", "trainer.deepspeed", "rl"),
        ("eval", "rollout:\n  temperature: 0.7\n", "rollout.temperature", "rl"),
        ("eval", "model:\n  lora: {r: 8}\n", "model.lora", "rl and sft"),
        ("rl", "sft:\n  epochs: 2\n", "sft", "sft"),
        ("eval", "eval:\n  every_n_steps: 1\n", "eval", "rl"),
        ("rl", "model:\n  name_or_path: x\n", None, None),
    ],
)
def test_a_key_of_another_stage_is_an_error_naming_the_key_and_its_stage(tmp_path, stage, text, key, owner):
    p = _write(tmp_path, text)
    if key is None:
        assert isinstance(load_config(p, stage=stage), RLRunConfig)
        return
    with pytest.raises(ConfigError, match=rf"run.yaml:\d+: {key}: belongs to the {owner} stages?, not to {stage}"):
        load_config(p, stage=stage)


def test_stage_types():
    assert isinstance(load_config(None, stage="sft"), SFTRunConfig)
    assert isinstance(load_config(None, stage="eval"), EvalRunConfig)
    with pytest.raises(ValueError, match="stage"):
        load_config(None, stage="ppo-ish")


def _write(tmp_path, text):
    p = tmp_path / "run.yaml"
    p.write_text(text)
    return p


def test_typo_names_the_key_path_file_and_line(tmp_path):
    p = _write(tmp_path, "model:\n  name_or_path: tiny-random\nrollout:\n  num_workers: 2\n  num_wrkers: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert f"{p}:5" in msg and "rollout.num_wrkers" in msg and "did you mean 'num_workers'" in msg


def test_typo_in_override_names_the_override():
    with pytest.raises(ConfigError, match=r"override 'rollout.num_wrkers=3': rollout.num_wrkers: unknown key"):
        load_config(None, ["rollout.num_wrkers=3"])


@pytest.mark.parametrize(
    "text,match",
    [
        ("rollout:\n  num_workers: two\n", r":2: rollout.num_workers: expected an integer"),
        ("format:\n  name: xml\n", r":2: format.name: 'xml' is not one of"),
        ("algorithm:\n  num_generations: 1\n", r":2: algorithm.num_generations: GRPO needs at least 2"),
        ("algorithm:\n  loss_type: grpo\n  skip_flat_groups: true\n", r"algorithm.skip_flat_groups: exact only with"),
        ("algorithm:\n  beta: 0.1\n  skip_flat_groups: true\n", r"algorithm.skip_flat_groups: exact only with"),
        ("rewards:\n  components: {ast: 1.0, vibes: 2.0}\n", r":2: rewards.components: unknown component 'vibes'"),
        ("trainer:\n  bf16: yes please\n", r":2: trainer.bf16: expected true or false"),
        ("model: [1, 2]\n", r":1: model: expected a mapping"),
        ("rollout:\n  max_new_tokens: 600\n  max_total_tokens: 512\n", r"rollout.max_new_tokens: must be smaller"),
        ("rewards:\n  components: {decision: 1.0}\nformat:\n  name: json\n", r":1: rewards: the 'decision' component"),
        ("model:\n  name_or_path: a\n  name_or_path: b\n", r"line 3: model.name_or_path: duplicate key"),
        ("model:\n  name_or_path: [unclosed\n", r"run.yaml:\d+: invalid YAML"),
        ("eval:\n  tasks: [toolgym, web_search_base]\n", r":2: eval.tasks: \['web_search_base'\]; each is 'toolgym' or a BFCL"),
        ("eval:\n  tasks: [toolgym, memory_kv]\n", r":2: eval.tasks: \['memory_kv'\]; each is 'toolgym' or a BFCL"),
        ("eval:\n  metric: toolgym/valid\n", r":2: eval.metric: 'toolgym/valid' is not one of \['toolgym/reward'"),
        ("eval:\n  tasks: [irrelevance]\n", r"eval.metric: 'toolgym/reward' is not one of \['irrelevance/valid'"),
        ("algorithm:\n  name: ppo\neval:\n  every_n_steps: 3\n", r":3: eval: every_n_steps must be a multiple of"),
    ],
)
def test_bad_values_are_named(tmp_path, text, match):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_overrides_apply_with_yaml_typing(tmp_path):
    p = _write(tmp_path, "rollout:\n  num_workers: 2\n")
    cfg = load_config(p, ["rollout.num_workers=4", "model.lora=null", "data.categories=[simple, parallel]", "rollout.temperature=0.7"])
    assert cfg.rollout.num_workers == 4 and cfg.model.lora is None
    assert cfg.data.categories == ["simple", "parallel"] and cfg.rollout.temperature == 0.7


def test_int_is_accepted_for_float_but_not_bool_for_int(tmp_path):
    assert load_config(_write(tmp_path, "rollout:\n  temperature: 1\n")).rollout.temperature == 1.0
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(_write(tmp_path, "rollout:\n  num_workers: true\n"))


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    # YAML 1.1 reads "1e-5" as a string; float fields take it as the number it means, and only those
    cfg = load_config(_write(tmp_path, "algorithm:\n  learning_rate: 1e-5\n"), ["rollout.temperature=7E-1"])
    assert cfg.algorithm.learning_rate == 1e-5 and cfg.rollout.temperature == 0.7
    with pytest.raises(ConfigError, match="expected a number, got str '1e-5x'"):
        load_config(None, ["algorithm.learning_rate=1e-5x"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(None, ["rollout.num_workers=1e2"])


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


def test_sft_micro_batch_must_divide_the_batch_and_sets_the_accumulation(tmp_path):
    p = _write(tmp_path, "sft:\n  batch_size: 8\n  micro_batch_size: 3\n")
    with pytest.raises(ConfigError, match=r"run.yaml:3: sft.micro_batch_size: 3 must divide batch_size \(8\)"):
        load_config(p, stage="sft")
    cfg = load_config(_write(tmp_path, "sft:\n  batch_size: 8\n  micro_batch_size: 2\n"), stage="sft")
    assert cfg.sft.accumulation_steps == 4
    assert load_config(None, ["sft.batch_size=8"], stage="sft").sft.accumulation_steps == 1
