"""The episode runner: token streams, masks, limits, and errors that end as observations, not crashes."""

import time

import pytest

import envs
import rewards
from envs.api import SimulatedAPI, ToolError, readonly
from envs.formats import get_format
from envs.types import Task
from rl.models import smollm2_tokenizer
from rl.rollout.chat import ChatRenderer
from rl.rollout.engine import Engine, Generation
from rl.rollout.episodes import EpisodeRunner, Limits, episode_seed


class FlakyAPI(SimulatedAPI):
    """A test domain whose tools misbehave on purpose."""

    domain = "flaky"

    @classmethod
    def default_state(cls, rng):
        return {"count": 0}

    @readonly
    def slow(self, seconds: float) -> str:
        """Spins, then answers (a pure-Python hang, which the env's watchdog can interrupt).

        Args:
            seconds: How long to spin.
        """
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        return "woke up"

    def boom(self, x: int) -> int:
        """Raises a bug (not a ToolError).

        Args:
            x: Divided by zero.
        """
        self.s["count"] += 1
        return x // 0

    def bump(self, by: int = 1) -> int:
        """Adds to the counter.

        Args:
            by: Increment.
        """
        if by < 0:
            raise ToolError("by must be >= 0")
        self.s["count"] += by
        return self.s["count"]


class ScriptedEngine:
    """A stand-in policy that says scripted texts, one per round, token in / token out like HFEngine."""

    def __init__(self, tokenizer, scripts: list[list[str]], stop_id: int):
        self.tok, self.scripts, self.stop_id = tokenizer, [list(s) for s in scripts], stop_id
        self.contexts: list[list[list[int]]] = [[] for _ in scripts]

    def release(self, keys):
        pass

    def set_weights(self, state, version):
        raise AssertionError("episodes never change weights")

    def generate(self, contexts, *, max_new_tokens, generators, temperature=1.0, top_p=1.0, cache_keys=None):
        # Rows arrive in episode order among the still-active episodes.
        active = [i for i, s in enumerate(self.scripts) if s]
        out = []
        for row, ctx, budget in zip(active, contexts, max_new_tokens, strict=True):
            self.contexts[row].append(list(ctx))
            ids = self.tok(self.scripts[row].pop(0), add_special_tokens=False)["input_ids"] + [self.stop_id]
            stopped = len(ids) <= budget
            ids = ids[:budget]
            out.append(Generation(ids, [-0.5] * len(ids), stopped))
        return out


@pytest.fixture
def flaky(monkeypatch):
    monkeypatch.setitem(envs.domains.DOMAINS, "flaky", FlakyAPI)
    return FlakyAPI


def _task(turns=1, gt=None):
    return Task(
        id="flaky-1",
        category="multi_turn" if turns > 1 else "simple",
        turns=[[{"role": "user", "content": f"request {k}"}] for k in range(turns)],
        tools=FlakyAPI.tools(),
        ground_truth=gt or [[{"bump": {"by": [2]}}]] * turns,
        domains=["flaky"],
        initial_state={"flaky": {"count": 0}},
    )


def _runner(tok, scripts, limits=None, fmt="pythonic"):
    renderer = ChatRenderer(tok, get_format(fmt), "system")
    engine = ScriptedEngine(tok, scripts, renderer.end_of_turn_id)
    assert isinstance(engine, Engine)  # written against the protocol alone
    spec = rewards.RewardSpec(weights={"ast": 1.0, "execution": 1.0, "format": 0.5}, format_name=fmt)
    return EpisodeRunner(engine, renderer, limits or Limits(max_turns=3, call_timeout_s=0.2), spec), engine, renderer


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


def test_token_stream_matches_the_chat_template_and_mask_covers_exactly_the_assistant(tok, flaky):
    scripts = [["[bump(by=2)]", "Done: 2", "[bump(by=2)]", "Now 4."]]
    runner, _, renderer = _runner(tok, scripts)
    (tr,), timing = runner.run([_task(turns=2)], [7])
    ep = tr.episode
    # The whole token stream is the template's rendering of the transcript (token in, token out).
    assert tok.decode(tr.prompt_ids + tr.completion_ids) + "\n" == renderer.render(ep.messages, [], False)
    # Policy tokens are exactly the assistant messages, each with its end-of-turn token.
    policy = tok.decode([t for t, m in zip(tr.completion_ids, tr.env_mask, strict=True) if m])
    assert policy == "".join(s + "<|im_end|>" for s in scripts[0])
    env_text = tok.decode([t for t, m in zip(tr.completion_ids, tr.env_mask, strict=True) if not m])
    assert "<|im_start|>tool" in env_text and "request 1" in env_text and "[bump" not in env_text
    assert [lp for lp, m in zip(tr.logprobs, tr.env_mask, strict=True) if not m] == [0.0] * (len(tr.env_mask) - sum(tr.env_mask))
    assert ep.final_state == {"flaky": {"count": 4}} and len(ep.turn_states) == 2
    assert tr.rewards["ast"] == 1.0 and tr.rewards["execution"] == 1.0 and tr.rewards["format"] == 1.0
    assert timing["policy_tokens"] == sum(tr.env_mask)


def test_malformed_output_timeout_and_raising_tool_end_as_error_observations(tok, flaky):
    scripts = [["[bump(by=2", "[slow(seconds=5)]", "[boom(x=1)]"]]  # cut-off call, a hang, a crash
    runner, _, _ = _runner(tok, scripts, Limits(max_turns=3, call_timeout_s=0.2))
    t = time.perf_counter()
    (tr,), _ = runner.run([_task()], [1])
    assert time.perf_counter() - t < 4.0  # the hanging tool was cut off by the time limit
    steps = tr.episode.steps
    assert steps[0].parse_error and not steps[0].calls
    tool_msgs = [m["content"] for m in tr.episode.messages if m["role"] == "tool"]
    assert "invalid tool call" in tool_msgs[0]
    assert steps[1].results[0].error and "time" in steps[1].results[0].error.lower()
    assert steps[2].results[0].error  # a bug in a tool is an error value
    assert tr.episode.final_state == {"flaky": {"count": 0}}  # failed calls left the state untouched
    assert tr.rewards["format"] < 1.0 and tr.rewards["ast"] < 1.0


def test_limits_max_turns_and_total_tokens(tok, flaky):
    runner, engine, _ = _runner(tok, [["[bump(by=1)]"] * 5], Limits(max_turns=2))
    (tr,), _ = runner.run([_task()], [1])
    assert len(tr.episode.steps) == 2 and engine.scripts[0] == ["[bump(by=1)]"] * 3
    prompt_len = len(runner.renderer.prompt_ids(runner.renderer.initial_messages(_task()), []))
    budget = prompt_len + 50  # room for the call and its result, not for the long second message
    runner, _, _ = _runner(tok, [["[bump(by=1)]", "x" * 2000]], Limits(max_turns=3, max_new_tokens=64, max_total_tokens=budget))
    (tr,), _ = runner.run([_task()], [1])
    assert tr.episode.truncated and len(tr.prompt_ids) + len(tr.completion_ids) <= budget


def test_a_call_can_set_its_own_max_turns(tok, flaky):
    runner, _, _ = _runner(tok, [["[bump(by=1)]"] * 4], Limits(max_turns=3))  # one script row, played twice
    (one,), _ = runner.run([_task()], [1], max_turns=1)  # an evaluation's one-message task
    assert len(one.episode.steps) == 1 and one.episode.final_state == {"flaky": {"count": 1}}
    (full,), _ = runner.run([_task()], [1])  # the next call is back at the runner's limit
    assert len(full.episode.steps) == 3


def test_lockstep_batch_with_real_model_is_seed_deterministic(tok):
    from rl.checkpoint import load_policy
    from rl.config import load_config
    from rl.rollout.setup import RolloutSetup, build_runner

    cfg = load_config(None, ["model.name_or_path=tiny-random", "rollout.max_new_tokens=12", "format.tool_style=compact"])
    model, tok2 = load_policy("tiny-random")
    runner = build_runner(RolloutSetup.of(cfg), model, tok2)
    tasks = envs.tasks.generate(4, "train", seed=3, categories=["simple", "multi_turn"])
    seeds = [episode_seed(0, t.id, 0) for t in tasks]
    a, _ = runner.run(tasks, seeds)
    b, _ = runner.run(list(reversed(tasks)), list(reversed(seeds)))  # other batch order, same seeds
    for x, y in zip(a, reversed(b), strict=True):
        assert x.completion_ids == y.completion_ids and x.env_mask == y.env_mask
    assert all(len(t.completion_ids) == len(t.env_mask) == len(t.logprobs) for t in a)


def test_episode_seed_depends_only_on_step_task_and_sample():
    assert episode_seed(3, "t", 1) == episode_seed(3, "t", 1)
    assert len({episode_seed(s, t, k) for s in (0, 1) for t in ("a", "b") for k in (0, 1)}) == 8


def test_a_prompt_as_long_as_the_budget_ends_truncated_without_generating(tok, flaky):
    runner, engine, renderer = _runner(tok, [["never said"]], limits=Limits(max_total_tokens=10, max_new_tokens=4))
    (tr,), _ = runner.run([_task()], [0])
    assert tr.episode.truncated and not tr.episode.steps and not tr.completion_ids
    assert engine.contexts == [[]]  # the engine was never asked


def test_an_open_mode_episode_offers_only_search_then_calls_what_it_found(tok):
    from envs.open_world import SEARCH_TOOL_NAME, open_task
    from rewards import retrieval

    task = next(t for t in envs.tasks.generate(40, "test", seed=0, categories=["simple"], domains=["banking"])
                if retrieval.golden_tools(t) == ["pay_bill"])
    ((name, args),) = task.ground_truth[0][0].items()
    call = f"[{name}(" + ", ".join(f"{k}={v[0]!r}" for k, v in args.items() if v[0] != "") + ")]"
    scripts = [[f"[{SEARCH_TOOL_NAME}(query='pay bill to a payee from an account', k=2)]", call, "Paid."]]
    renderer = ChatRenderer(tok, get_format("pythonic"), "system")
    engine = ScriptedEngine(tok, scripts, renderer.end_of_turn_id)
    spec = rewards.RewardSpec(weights={"ast": 1.0, "execution": 1.0, "retrieval": 1.0}, format_name="pythonic")
    runner = EpisodeRunner(engine, renderer, Limits(max_turns=3, max_total_tokens=4096), spec)
    (tr,), _ = runner.run([open_task(task)], [3])
    prompt = tok.decode(tr.prompt_ids)
    assert SEARCH_TOOL_NAME in prompt and name not in prompt  # the prompt lists search_tools alone
    first_result = tok.decode(engine.contexts[0][1][len(tr.prompt_ids):])
    assert '"name": "pay_bill"' in first_result  # the search's result is what the policy read next
    assert tr.rewards["retrieval"] == 1.0 and tr.rewards["ast"] == 1.0 and tr.rewards["execution"] == 1.0
    # The same task in golden mode lists its tools and has no search tool.
    golden_prompt = tok.decode(renderer.prompt_ids(renderer.initial_messages(task), task.tools))
    assert name in golden_prompt and SEARCH_TOOL_NAME not in golden_prompt


def test_a_bfcl_prompt_variant_task_is_prompted_and_parsed_in_its_own_format(tok):
    """A format-sensitivity task brings its prompt format: BFCL's system prompt in place of the run's format, and
    replies parsed in the variant's return format (here concise XML inside <TOOLCALL>); other tasks of the same
    batch keep the run's format."""
    from envs import bfcl
    from envs.bfcl_formats import BFCLPromptFormat, system_prompt
    from rl.eval.evaluate import bfcl_verdict

    config = "ret_fmt=concise_xml&tool_call_tag=True&func_doc_fmt=xml&prompt_fmt=plaintext&style=classic"
    (task,) = [t for t in bfcl.load("format_sensitivity", limit=1) if t.metadata["bfcl_prompt_format"] == config]
    (plain,) = bfcl.load("simple_python", limit=1)
    ((name, args),) = task.ground_truth[0][0].items()
    right = BFCLPromptFormat(config).render_calls([envs.types.ToolCall(name, {k: v[0] for k, v in args.items()})])
    assert right.startswith("<TOOLCALL><functions>")
    # One message per task, as evaluation plays BFCL's single-turn tasks.
    runner, _, _ = _runner(tok, [[right], [right.replace("<TOOLCALL>", "")], [right]], Limits(max_turns=1))
    (good, untagged, other), _ = runner.run([task, task, plain], [None] * 3)
    assert good.episode.messages[0] == {"role": "system", "content": system_prompt(config, task.tools)}
    assert good.episode.calls(0) and good.episode.steps[0].parse_error is None and bfcl_verdict(task, good)
    assert not untagged.episode.calls(0) and "TOOLCALL" in untagged.episode.steps[0].parse_error
    assert not bfcl_verdict(task, untagged)
    # The run's own (pythonic) format for the plain task: its prompt, and XML is not a call there.
    assert "<TOOLCALL>" not in other.episode.messages[0]["content"] and not other.episode.calls(0)
