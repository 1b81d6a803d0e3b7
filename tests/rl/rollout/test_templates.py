"""Every chat template TRL ships (but the image-only and diffusion ones), swapped into SmolLM2's tokenizer with its
family's control tokens, rolls out a three-turn episode with two tool calls and a tool error token by token
(prompt ids + sampled ids + environment ids + ...), and the result decodes to the conversation the template
renders for those messages: the environment's tokens are exactly what the template gives at that point, whatever
it does to earlier turns. The only differences allowed are the ones a family declares (`rerenders`), and the
template's closing after the last message, where a rollout ends at the stop token."""

import re
from functools import cache
from pathlib import Path

import pytest

from envs.types import ToolCall, ToolResult
from rl.config import FormatConfig
from rl.models import smollm2_tokenizer
from rl.rollout.chat import ChatRenderer
from rl.rollout.templates import FAMILIES, GENERIC, NOT_FOR_ROLLOUTS, family_of, family_table, trl_templates

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
PARIS, OSLO = ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_weather", {"city": "Oslo"})
USERS = ["What is the weather in Paris and in Oslo?", "Thanks. Anything else?", "Bye"]
# (calls, results) or ([], answer), one per assistant message; user turns start after the answers.
PLAN = [([PARIS], [ToolResult(PARIS, output={"temp": 20})]), ([OSLO], [ToolResult(OSLO, error="service unavailable")]),
        ([], "Paris is 20C; Oslo failed."), ([], "No."), ([], "Bye!")]
TEMPLATES = {n: t for n, t in trl_templates().items() if n not in NOT_FOR_ROLLOUTS}
CASES = [(n, f) for n in TEMPLATES for f in ("native", "json", "pythonic", "decision")
         if f != "native" or next(fam for fam in FAMILIES if n in fam.templates).native]


@cache
def _tokenizer(name: str):
    tok = smollm2_tokenizer()
    tok.chat_template = TEMPLATES[name]
    tok.add_special_tokens({"additional_special_tokens": list(family_of(tok).control_tokens)},
                           replace_extra_special_tokens=False)
    return tok


def _roll_out(r: ChatRenderer) -> tuple[list[int], list[dict]]:
    """The episode as a rollout assembles it; the "model" writes each message as the family's template renders it."""
    fmt = r.fmt
    conv = r.initial_messages_of(TOOLS, [{"role": "user", "content": USERS[0]}])
    ids = r.prompt_ids(conv, TOOLS)
    turn = 0
    for calls, result in PLAN:
        text = fmt.render_calls(calls) if calls else fmt.render_answer(result)
        message = r.assistant_message("" if r.structured else text, calls)
        if calls:
            new = fmt.render_results(result)
        elif turn < len(USERS) - 1:
            turn += 1
            new = [{"role": "user", "content": USERS[turn]}]
        else:
            new = []
        sampled = r.assistant_body(message, new, TOOLS)
        if calls:
            assert fmt.parse(sampled).calls == calls  # the calls as written parse back
        ids += r.encode(sampled)
        if new:
            ids += r.continuation_ids(message, r.tokenizer.decode(r.encode(sampled)), new, TOOLS)
        conv += [message, *new]
    return ids, conv


@pytest.mark.parametrize("name,fmt", CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_a_rollout_decodes_to_the_conversation_the_template_renders(name, fmt):
    tok = _tokenizer(name)
    family = family_of(tok)
    assert family is not GENERIC and name in family.templates
    r = ChatRenderer.for_format(tok, FormatConfig(name=fmt, tool_style="compact"))
    ids, conv = _roll_out(r)
    got, want = tok.decode(ids), r.render(conv, TOOLS, generation_prompt=False)
    if family.rerenders and "<think>" in family.rerenders:
        think = re.compile(r"<think>.*?</think>\s*", re.S)
        got, want = think.sub("", got), think.sub("", want)
    assert want.startswith(got), f"{name}/{fmt}: the rollout and the template part at {next(i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)}"
    closing = want[len(got):]
    assert not closing.strip("\n " + tok.eos_token), f"{name}/{fmt}: more than a closing after the last message: {closing!r}"


def test_a_family_without_what_native_needs_is_named():
    with pytest.raises(ValueError, match=r"template family 'llama3': format 'native' needs a chat template that accepts tools="):
        ChatRenderer.for_format(_tokenizer("llama3"), FormatConfig(name="native"))


def test_smollm2_is_the_generic_family():
    assert family_of(smollm2_tokenizer()) is GENERIC


def test_the_readme_table_is_the_families_table():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert family_table() in readme


@pytest.mark.parametrize("template", ["qwen3", "llama3_1"])
def test_multi_turn_rollouts_on_another_template_keep_the_env_mask_contract(template):
    """tiny-random with the template swapped in: the policy tokens (env_mask 1) are exactly what the engine
    sampled, in order, and each environment span renders the turn that followed."""
    import envs
    from rl.checkpoint import load_policy
    from rl.config import load_config
    from rl.rollout.setup import RolloutSetup, build_runner
    from rl.train.ppo import message_spans

    cfg = load_config(None, ["model.name_or_path=tiny-random", "model.lora=null", "format.name=native",
                             f"format.chat_template={template}", "format.tool_style=compact", "rollout.max_turns=2",
                             "rollout.max_new_tokens=12", "rollout.max_total_tokens=2048"])  # Llama 3.1: long prompts
    model, tok = load_policy("tiny-random", fmt=cfg.format)
    assert tok.chat_template == TEMPLATES[template]
    runner = build_runner(RolloutSetup.of(cfg), model, tok)
    sampled: dict[int, list[list[int]]] = {}
    generate = runner.engine.generate

    def recording(contexts, **kw):
        outs = generate(contexts, **kw)
        for key, out in zip(kw["cache_keys"], outs, strict=True):
            sampled.setdefault(id(key), []).append(out.ids)
        return outs

    runner.engine.generate = recording
    tasks = envs.tasks.generate(4, "train", seed=0, categories=["multi_turn"])
    trajs, _ = runner.run(tasks, [1, 2, 3, 4])
    generations = list(sampled.values())
    assert len(generations) == len(trajs)
    for tr, gens, task in zip(trajs, generations, tasks, strict=True):
        spans = message_spans(tr.env_mask)
        assert [tr.completion_ids[a : b + 1] for a, b in spans] == gens  # every sampled token, as sampled
        assert len(tr.env_mask) == len(tr.completion_ids) and set(tr.env_mask) <= {0, 1}
        text = tok.decode(tr.prompt_ids + tr.completion_ids)
        if len(tr.episode.steps) > 1:  # the episode went on past its first message: the env rendered a turn
            later = [m["content"] for turn in task.turns[1:] for m in turn]
            assert any(u in text for u in later) or any(s.results for s in tr.episode.steps)
