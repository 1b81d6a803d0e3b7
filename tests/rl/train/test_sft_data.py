"""SFT data: the loss mask covers exactly the assistant tokens; recipes build what they promise."""

import dataclasses

import pytest

import envs
from envs.formats import ANSWER, USE_TOOL, get_format
from envs.schema import tool_name
from envs.tasks import non_fc_variant
from rl.checkpoint import load_policy
from rl.config import FormatConfig
from rl.models import smollm2_tokenizer
from rl.rollout.chat import ChatRenderer
from rl.train.sft_data import build_examples, encode_dialogue, task_dialogue


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


@pytest.fixture(scope="module")
def decision_tok():
    return load_policy("tiny-random", fmt=FormatConfig(name="decision"))[1]


def _spans(text: str, needles: list[str]) -> list[tuple[int, int]]:
    """Character spans of each needle, found in order."""
    spans, pos = [], 0
    for n in needles:
        start = text.index(n, pos)
        spans.append((start, start + len(n)))
        pos = start + len(n)
    return spans


@pytest.mark.parametrize("placement", ["system", "tools_role"])
def test_loss_mask_is_exactly_the_assistant_tokens(tok, placement):
    renderer = ChatRenderer(tok, get_format("pythonic", tool_style="compact"), placement)
    tasks = envs.tasks.generate(40, "train", seed=5, categories=["multi_step", "multi_turn", "parallel"])
    for task in tasks:
        dialogue = task_dialogue(task, renderer.fmt)
        prompt = renderer.initial_messages(task)
        ids, mask = encode_dialogue(renderer, prompt, task.tools, dialogue)
        text = renderer.render(prompt + dialogue, task.tools, generation_prompt=False)
        # The token stream is the template's rendering of the conversation (minus its trailing newline).
        assert tok.decode(ids) + "\n" == text
        # Assistant spans: each assistant content with its end-of-turn marker.
        targets = [m["content"] + "<|im_end|>" for m in dialogue if m["role"] == "assistant"]
        spans = _spans(text, targets)
        pos = 0
        for tid, m in zip(ids, mask, strict=True):
            piece = tok.decode([tid])
            inside = any(a <= pos and pos + len(piece) <= b for a, b in spans)
            assert m == int(inside), f"token {piece!r} at {pos} mask={m} in task {task.id}"
            pos += len(piece)
        trained = tok.decode([t for t, m in zip(ids, mask, strict=True) if m])
        assert trained == "".join(targets)
        # Nothing from the prompt, the tool list or the tool results is trained.
        for m in prompt + [d for d in dialogue if d["role"] != "assistant"]:
            assert m["content"] not in trained or m["content"] in "".join(targets)


def test_decision_tokens_start_every_target_and_non_fc_examples_have_no_fitting_tool(decision_tok):
    renderer = ChatRenderer(decision_tok, get_format("decision"), "system")
    tasks = envs.tasks.generate(30, "train", seed=1, categories=["simple", "parallel", "multi_step"])
    examples, report = build_examples(tasks, renderer, non_fc_ratio=0.4, seed=0)
    assert report.built["non_fc"] > 0 and report.built["fc"] == len(tasks) - sum(report.rejected.values())
    for ex in examples:
        trained = decision_tok.decode([t for t, m in zip(ex.input_ids, ex.assistant_masks, strict=True) if m])
        messages = [m for m in trained.split("<|im_end|>") if m]
        assert all(m.startswith((USE_TOOL, ANSWER)) for m in messages), trained
        if ex.kind == "non_fc":
            assert messages == [ANSWER]  # the decision alone: no call, no answer text
    for task in tasks:
        variant = non_fc_variant(task)
        needed = {name for turn in task.ground_truth for call in turn for name in call}
        assert variant.ground_truth == [[]] and not needed & {tool_name(t) for t in variant.tools}
        assert all(m["role"] == "assistant" and USE_TOOL not in m["content"] for m in task_dialogue(variant, renderer.fmt))


def test_invalid_targets_are_rejected_and_counted_never_silently_dropped(tok):
    renderer = ChatRenderer(tok, get_format("pythonic"), "system")
    good, bad, bad2 = envs.tasks.generate(3, "train", seed=2, categories=["simple"])
    (fn, args), = bad.ground_truth[0][0].items()
    bad = dataclasses.replace(bad, ground_truth=[[{"no_such_tool": args}]])
    key = next(iter(args))
    bad2 = dataclasses.replace(bad2, ground_truth=[[{fn2: {**a, key + "_typo": ["x"]}} for fn2, a in bad2.ground_truth[0][0].items()]])
    examples, report = build_examples([good, bad, bad2], renderer)
    assert len(examples) == 1 and sum(report.rejected.values()) == 2
    assert report.rejected["execution"] == 2 and "rejected 2" in report.summary()


def test_reasoning_and_chat_mix_recipes(tok):
    renderer = ChatRenderer(tok, get_format("pythonic"), "system")
    tasks = envs.tasks.generate(10, "train", seed=3, categories=["simple"])
    chat = [{"messages": [{"role": "user", "content": f"Tell me a fact {i}."}, {"role": "assistant", "content": f"Fact {i}."}]}
            for i in range(20)]
    examples, report = build_examples(tasks, renderer, reasoning=True, chat_rows=chat, chat_mix_ratio=0.5)
    assert report.built["chat"] == report.built["fc"] == 10
    for ex in examples:
        trained = tok.decode([t for t, m in zip(ex.input_ids, ex.assistant_masks, strict=True) if m])
        if ex.kind == "fc":
            assert trained.startswith("I will call ") and "\n[" in trained
        else:
            assert trained.startswith("Fact ") and trained.endswith("<|im_end|>")


def test_open_mode_tasks_become_retrieve_then_call_traces_with_the_search_s_real_result(tok):
    from envs.open_world import SEARCH_TOOL_NAME, open_task
    from rewards import retrieval

    fmt = get_format("pythonic")
    tasks = [open_task(t) for t in envs.tasks.generate(60, "train", seed=1, categories=["simple", "multi_step"])]
    examples, report = build_examples(tasks, ChatRenderer(tok, fmt, "system"))
    assert len(examples) + sum(report.rejected.values()) == len(tasks) and len(examples) >= 55
    assert set(report.rejected) <= {"retrieval"}  # a tool no query finds is rejected, never guessed
    task = next(t for t in tasks if retrieval.golden_tools(t))
    dialogue = task_dialogue(task, fmt)
    first = fmt.parse(dialogue[0]["content"]).calls
    assert [c.name for c in first] == [SEARCH_TOOL_NAME]
    assert retrieval.golden_tools(task)[0] in dialogue[1]["content"]  # the result lists the tool it then calls
    example = next(e for e in examples if e.source == task.id)
    prompt = tok.decode(example.input_ids[: example.assistant_masks.index(1)])
    assert SEARCH_TOOL_NAME in prompt and retrieval.golden_tools(task)[0] not in prompt
