"""Policy loading without network: aliases, local checkpoints, clear errors, decision markers, LoRA."""

import time

import pytest
import torch

from launch.common import config_and_train_tasks
from rl.checkpoint import load_policy
from rl.config import FormatConfig
from rl.models import ALIASES, ModelLoadError, check_spec


def test_tiny_random_is_deterministic_and_has_a_pad_token():
    m1, tok = load_policy("tiny-random")
    m2, _ = load_policy("tiny-random")
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True))
    assert tok.pad_token is not None and m1.config.num_hidden_layers == 2


def test_decision_markers_are_plain_text_and_differ_in_one_token():
    model, tok = load_policy("tiny-random", fmt=FormatConfig(name="decision"))
    _, plain_tok = load_policy("tiny-random")
    assert len(tok) == len(plain_tok) and model.get_input_embeddings().num_embeddings == len(plain_tok)
    use, answer = (tok("<|" + m, add_special_tokens=False)["input_ids"] for m in ("use_tool|>", "answer|>"))
    assert use[:2] == answer[:2] and use[2] != answer[2]  # "<|" then the decision, an existing token


def test_a_template_adds_only_its_missing_stops_as_tokens_and_spells_its_other_control_tokens():
    _, plain_tok = load_policy("tiny-random")
    model, tok = load_policy("tiny-random", fmt=FormatConfig(name="native", chat_template="qwen3"))
    assert len(tok) == len(plain_tok) == model.get_input_embeddings().num_embeddings  # <|im_end|> is SmolLM2's
    spelled = tok("<tool_call>", add_special_tokens=False)["input_ids"]
    assert len(spelled) > 1 and all(i < len(plain_tok) for i in spelled)
    assert tok.decode(spelled) == "<tool_call>"
    # Spelled, a call still parses, by TRL's response parser (its tool loop) and by the native format
    from trl.chat_template_utils import add_response_schema, parse_response

    from envs.formats import get_format

    reply = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>'
    trl_tok = add_response_schema(tok)
    prompt = trl_tok.apply_chat_template([{"role": "user", "content": "Weather in Paris?"}], add_generation_prompt=True,
                                         tokenize=True, return_dict=True)["input_ids"]
    ids = trl_tok(reply, add_special_tokens=False)["input_ids"]
    calls = parse_response(trl_tok, ids, prefix=prompt)["tool_calls"]  # as GRPOTrainer's tool loop calls it
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [("get_weather", {"city": "Paris"})]
    ours = get_format("native", tokenizer=trl_tok).parse(reply.removesuffix("<|im_end|>")).calls
    assert [(c.name, c.arguments) for c in ours] == [("get_weather", {"city": "Paris"})]
    _, tok = load_policy("tiny-random", fmt=FormatConfig(chat_template="llama3_1"))
    assert sorted(tok.get_added_vocab().keys() - plain_tok.get_added_vocab().keys()) == ["<|eom_id|>", "<|eot_id|>"]


def test_local_checkpoint_round_trip(tmp_path):
    model, tok = load_policy("tiny-random")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    again, tok2 = load_policy(str(tmp_path))
    x = torch.tensor([[1, 2, 3, len(tok) - 1]])
    assert torch.allclose(model(x).logits, again(x).logits)
    assert len(tok2) == len(tok)


def test_lora_wraps_with_peft():
    from rl.config import LoraConfig

    model, _ = load_policy("tiny-random", lora=LoraConfig(r=4, alpha=8))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_lora_top_layers_adapts_only_the_last_layers_and_backward_stops_below_them():
    from rl.config import LoraConfig

    model, _ = load_policy("tiny-random", lora=LoraConfig(r=4, alpha=8, top_layers=1))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".layers.1." in n and "lora_" in n for n in trainable)
    # all seven linear projections of the adapted layer, as "all-linear" gives without top_layers
    assert len({n.split(".layers.1.")[1].split(".lora_")[0] for n in trainable}) == 7
    below = []  # whether layer 0's output is part of the autograd graph
    layer0 = model.get_base_model().model.layers[0]
    layer0.register_forward_hook(lambda mod, args, out: below.append((out[0] if isinstance(out, tuple) else out).requires_grad))
    model(torch.tensor([[1, 2, 3]])).logits.sum().backward()
    assert below == [False]
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad)


def test_lora_top_layers_beyond_the_model_is_a_clear_error():
    from rl.config import LoraConfig

    with pytest.raises(ValueError, match="top_layers: 3 is more than the model's 2 layers"):
        load_policy("tiny-random", lora=LoraConfig(top_layers=3))
    with pytest.raises(ValueError, match="top_layers: must be positive"):
        LoraConfig(top_layers=0)


def test_unknown_hub_id_is_a_clear_error_naming_the_aliases(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as e:
        load_policy("Team-ACE/ToolACE-8B-not-cached")
    msg = str(e.value)
    assert all(a in msg for a in ALIASES) and "allow_download" in msg


def test_missing_local_path_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="no such local path"):
        load_policy("./no/such/checkpoint")


def test_check_spec_fails_in_the_launcher_on_what_no_worker_could_load(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_spec("tiny-random", allow_download=False)
    check_spec("Team-ACE/ToolACE-8B-not-cached", allow_download=True)  # the workers may download it
    with pytest.raises(ModelLoadError, match="allow_download"):
        check_spec("Team-ACE/ToolACE-8B-not-cached", allow_download=False)
    with pytest.raises(ModelLoadError, match="no such local path"):
        check_spec(str(tmp_path / "run" / "final"), allow_download=True)
    with pytest.raises(ModelLoadError, match="neither config.json nor adapter_config.json"):
        check_spec(str(tmp_path), allow_download=False)


def test_an_entry_point_names_a_missing_model_and_exits_before_starting_ray(tmp_path, capsys, monkeypatch):
    from launch.eval import main
    from rl import ray_utils

    def no_ray(*args, **kwargs):
        raise AssertionError("started Ray")

    monkeypatch.setattr(ray_utils, "init_ray", no_ray)
    missing = tmp_path / "grpo" / "final"
    assert main(["--model", str(missing), "--benchmark", "toolgym", "--limit", "2", "--workers", "2"]) == 2
    assert f"--model: {missing}: no such local path" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        config_and_train_tasks("configs/smoke.yaml", [f"model.name_or_path={missing}"], stage="rl")
    assert e.value.code == 2
    assert f"configs/smoke.yaml: model.name_or_path: {missing}: no such local path" in capsys.readouterr().err


@pytest.mark.integration
def test_second_smollm2_load_is_fast(capsys):
    load_policy("smollm2-135m")  # converts the GGUF once (about 25 s) if the cache is cold
    t = time.perf_counter()
    model, tok = load_policy("smollm2-135m")
    dt = time.perf_counter() - t
    with capsys.disabled():
        print(f"\n[figure] second load_policy('smollm2-135m'): {dt:.2f} s")
    assert dt < 3.0
    assert model.config.num_hidden_layers == 30 and tok.eos_token == "<|im_end|>"
    # The converted copy must behave like an instruct model: greedy reply to a greeting is prose.
    ids = tok.apply_chat_template([{"role": "user", "content": "Say hello."}], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()
