"""HFEngine: batched per-sequence sampling, and KV-cache reuse across the rounds of an episode.

The oracle is a from-scratch decode (one full forward pass per token, no cache, no padding, no batch mates),
so these tests check the batched/padded/cached paths against the plain definition of the model.
"""

import pytest
import torch

from rl.checkpoint import load_policy
from rl.rollout.engine import HFEngine

ENV_LENGTHS = [
    [3, 9, 1, 4, 2],
    [5, 2, 7, 1, 6],
]  # environment tokens appended to each row after rounds 1 and 2


@pytest.fixture(scope="module")
def policy():
    return load_policy("tiny-random")


def _engine(policy, stop_token_ids=(), **kwargs) -> HFEngine:
    model, tok = policy
    return HFEngine(model, tok.pad_token_id, list(stop_token_ids), **kwargs)


def _random_ids(n: int, seed: int) -> list[int]:
    return torch.randint(100, 49000, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def _contexts() -> list[list[int]]:
    return [_random_ids(n, seed=n) for n in (5, 17, 11, 30)]  # mixed lengths: left padding and holes


@torch.inference_mode()
def _reference(model, context: list[int], n: int, temperature: float = 1.0) -> tuple[list[int], list[float]]:
    """Greedy decode of one sequence, recomputing the whole context every token."""
    ids, lps = list(context), []
    for _ in range(n):
        logits = model(torch.tensor([ids])).logits[0, -1].float()
        tok = int(logits.argmax())
        lps.append(float(torch.log_softmax(logits / temperature, -1)[tok]))
        ids.append(tok)
    return ids[len(context) :], lps


@torch.inference_mode()
def _scored(model, context: list[int], generated: list[int], temperature: float) -> list[float]:
    """log_softmax(logits / T) of `generated` after `context`, from one full forward pass."""
    ids = torch.tensor([context + generated])
    logits = model(ids).logits[0, len(context) - 1 : -1].float()  # [n, V] predicts generated[k]
    return (
        torch.log_softmax(logits / temperature, -1)
        .gather(-1, torch.tensor(generated)[:, None])
        .squeeze(-1)
        .tolist()
    )


def _env_ids(round_index: int, row: int) -> list[int]:
    lengths = ENV_LENGTHS[round_index]
    return _random_ids(lengths[row % len(lengths)], seed=100 * round_index + row)


def _play(
    engine: HFEngine, contexts, budgets, generators=None, keys=None, temperature=1.0, top_p=1.0, rows=None
):
    """Plays rounds like the episode runner: context += generated ids + environment ids.

    `rows` names each context's row in `_contexts()` (which environment tokens it gets). Returns every round's
    outputs and the final contexts.
    """
    contexts = [list(c) for c in contexts]
    rows = rows or list(range(len(contexts)))
    rounds = []
    for r, budget in enumerate(budgets):
        outs = engine.generate(
            contexts,
            max_new_tokens=budget,
            generators=generators or [None] * len(contexts),
            temperature=temperature,
            top_p=top_p,
            cache_keys=keys,
        )
        rounds.append(outs)
        if r < len(ENV_LENGTHS):
            contexts = [c + o.ids + _env_ids(r, row) for c, o, row in zip(contexts, outs, rows, strict=True)]
    return rounds, contexts


# The engine's options change how the work is batched, never the tokens.
# The textbook algorithm: one padded prefill, no pruning.
ONE_PADDED_BATCH = {"max_padding": float("inf"), "max_chunk_tokens": 10**9, "prune_fraction": 1.0}
ENGINE_VARIANTS = {
    "default": {},
    "one-chunk-no-prune": ONE_PADDED_BATCH,
    "chunk-per-length": {"max_padding": 0.0, "max_padding_tokens": 0},
    "small-chunks": {"max_chunk_tokens": 64},
    "prune-at-first-finish": {"prune_fraction": 0.01},
}


@pytest.mark.parametrize("variant", list(ENGINE_VARIANTS))
def test_without_cache_keys_matches_the_from_scratch_decode(policy, variant):
    model, _ = policy
    engine = _engine(policy, **ENGINE_VARIANTS[variant])
    contexts, budgets = _contexts() + [_random_ids(150, seed=150)], [3, 8, 5, 6, 4]
    outs = engine.generate(contexts, max_new_tokens=budgets, generators=[None] * 5)
    for c, n, out in zip(contexts, budgets, outs, strict=True):
        ids, lps = _reference(model, c, n)
        assert out.ids == ids and not out.stopped
        assert out.logprobs == pytest.approx(lps, abs=1e-4)
    assert engine.cached_tokens == 0 and engine.reused_tokens == 0  # no keys: nothing kept


def test_prefill_chunks_group_similar_lengths(policy):
    engine = _engine(policy, max_padding=0.1, max_padding_tokens=0)
    assert engine._chunks([300, 10, 290, 12, 295]) == [[0, 4, 2], [3, 1]]
    assert _engine(policy)._chunks([300, 10, 290]) == [[0, 2], [1]]  # 10 would pad 290 tokens
    assert _engine(policy)._chunks([30, 10, 20]) == [[0, 2, 1]]  # under max_padding_tokens: one chunk
    assert _engine(policy, max_padding=float("inf"))._chunks([300, 1]) == [[0, 1]]
    assert _engine(policy, max_chunk_tokens=600)._chunks([300, 300, 290, 10]) == [[0, 1], [2], [3]]


@pytest.mark.parametrize("variant", list(ENGINE_VARIANTS))
def test_greedy_with_kv_reuse_equals_full_prefill_over_rounds(policy, variant):
    contexts = _contexts() + [_random_ids(150, seed=150)]  # 150 tokens: longer than the others by > 64
    probe = _engine(policy).generate(contexts, max_new_tokens=[6] * 5, generators=[None] * 5)
    stop = [probe[1].ids[2]]  # row 1 stops at its third token in round 1; rows finish at different steps
    budgets = [[3, 8, 5, 6, 4], [4, 2, 7, 5, 3], [5, 5, 1, 6, 2]]
    plain = _engine(policy, stop, reuse_kv=False, **ONE_PADDED_BATCH)
    cached = _engine(policy, stop, **ENGINE_VARIANTS[variant])
    want, want_ctx = _play(plain, contexts, budgets, keys=list("abcde"))  # keys ignored: reuse_kv=False
    got, got_ctx = _play(cached, contexts, budgets, keys=list("abcde"))
    assert got[0][1].stopped and len(got[0][1].ids) <= 3
    for w_round, g_round in zip(want, got, strict=True):
        for w, g in zip(w_round, g_round, strict=True):
            assert g.ids == w.ids and g.stopped == w.stopped
            assert g.logprobs == pytest.approx(w.logprobs, abs=1e-5)
    assert got_ctx == want_ctx
    # Rounds 2 and 3 prefilled only the new tokens; the rest came from the caches.
    assert plain.reused_tokens == 0
    assert cached.reused_tokens > 0
    assert cached.prefilled_tokens + cached.reused_tokens == plain.prefilled_tokens


def test_reuse_with_rows_joining_leaving_and_diverging(policy):
    """A batch where one row is new, one cache is stale mid-way, and one cached sequence is absent."""
    model, _ = policy
    contexts = _contexts()
    engine = _engine(policy)
    first = engine.generate(
        contexts, max_new_tokens=[4, 4, 4, 4], generators=[None] * 4, cache_keys=list("abcd")
    )
    nxt = [c + o.ids + [7, 8, 9] for c, o in zip(contexts, first, strict=True)]
    nxt[1][6] += 1  # diverges from b's cache at token 6: only 6 tokens may be reused
    fresh = _random_ids(23, seed=5)
    batch = [nxt[0], nxt[1], fresh]  # 'c' is absent this round (finished), 'e' is new
    reused_before = engine.reused_tokens
    outs = engine.generate(batch, max_new_tokens=[5, 3, 6], generators=[None] * 3, cache_keys=["a", "b", "e"])
    assert engine.reused_tokens - reused_before == (len(contexts[0]) + 3) + 6
    for c, n, out in zip(batch, [5, 3, 6], outs, strict=True):
        ids, lps = _reference(model, c, n)
        assert out.ids == ids
        assert out.logprobs == pytest.approx(lps, abs=1e-4)


def test_rows_with_a_common_prefix_share_its_prefill(policy):
    """GRPO-style batches: the same prompt several times, and prompts that share a system preamble."""
    prompt = _random_ids(60, seed=1)
    contexts = (
        [prompt, prompt, prompt]
        + [prompt[:40] + _random_ids(n, seed=n) for n in (5, 30)]
        + [_random_ids(9, 2)]
    )
    budgets = [[4, 5, 6, 3, 4, 5], [3, 3, 3, 3, 3, 3]]

    def play(engine):
        gens = [torch.Generator().manual_seed(s) for s in range(6)]
        return _play(engine, contexts, budgets, generators=gens, keys=list(range(6)), temperature=0.9)[0]

    sharing, alone = _engine(policy), _engine(policy, min_shared_prefix=10**9)
    got, want = play(sharing), play(alone)
    for g_round, w_round in zip(got, want, strict=True):
        for g, w in zip(g_round, w_round, strict=True):
            assert g.ids == w.ids
            assert g.logprobs == pytest.approx(w.logprobs, abs=1e-5)
    # Round 1: the five rows that start with prompt[:40] share those 40 tokens, which saves more (4 x 40) than
    # sharing 59 tokens among the three copies of the prompt only (2 x 59). Round 2 reuses each row's own cache.
    assert sharing.shared_tokens == 4 * 40 and alone.shared_tokens == 0
    assert sharing.prefilled_tokens < alone.prefilled_tokens


def test_roomy_cache_layer_grows_like_a_dynamic_layer():
    from transformers.cache_utils import DynamicLayer

    from rl.rollout.engine import _RoomyLayer

    roomy, plain = _RoomyLayer(capacity=3), DynamicLayer()
    for n in (2, 1, 4, 1):  # the third update overflows the room
        k, v = torch.randn(2, 3, n, 4), torch.randn(2, 3, n, 4)
        got, want = roomy.update(k, v), plain.update(k, v)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert roomy.get_seq_length() == plain.get_seq_length() == 8
    roomy.batch_select_indices(torch.tensor([1]))
    plain.batch_select_indices(torch.tensor([1]))
    assert torch.equal(roomy.keys, plain.keys) and roomy.get_seq_length() == 8


@pytest.mark.parametrize("noise_on_device", [False, True], ids=["cpu-noise", "device-noise"])
@pytest.mark.parametrize("variant", ["default", "one-chunk-no-prune"])
def test_sampled_tokens_do_not_depend_on_batch_mates(policy, variant, noise_on_device):
    """Also across rounds: a row that finishes early must not draw while its batch mates decode. With the noise
    drawn where the model is (the default off CPU, forced here on CPU), each row's draws still come from its own
    generator alone."""
    contexts = _contexts()
    budgets = [[4, 6, 3, 5], [3, 5, 6, 2], [4, 4, 4, 4]]
    seeds = [11, 22, 33, 44]
    batch, _ = _play(
        _engine(policy, noise_on_device=noise_on_device, **ENGINE_VARIANTS[variant]),
        contexts,
        budgets,
        generators=[torch.Generator().manual_seed(s) for s in seeds],
        keys=[0, 1, 2, 3],
        temperature=0.8,
        top_p=0.9,
    )
    for i in (0, 2, 3):
        alone, _ = _play(
            _engine(policy, noise_on_device=noise_on_device),
            [contexts[i]],
            [[b[i]] for b in budgets],
            generators=[torch.Generator().manual_seed(seeds[i])],
            keys=[i],
            temperature=0.8,
            top_p=0.9,
            rows=[i],
        )
        for r in range(len(budgets)):
            assert alone[r][0].ids == batch[r][i].ids


def test_device_noise_is_another_draw_of_the_same_rng():
    """The two noise schemes draw from the row's generator in different ways: different numbers, each one
    reproducible from the seed alone."""
    def noise(seed: int, on_device: bool) -> torch.Tensor:
        return HFEngine._noise([torch.Generator().manual_seed(seed)], 1000, torch.device("cpu"), on_device)

    assert torch.equal(noise(5, True), noise(5, True)) and torch.equal(noise(5, False), noise(5, False))
    assert not torch.equal(noise(5, True), noise(5, False)) and not torch.equal(noise(5, True), noise(6, True))
    assert noise(5, True).shape == (1, 1000) and 0.0 <= float(noise(5, True).min()) < float(noise(5, True).max()) <= 1.0


def test_logprobs_are_log_softmax_of_scaled_logits(policy):
    model, _ = policy
    T = 0.7
    contexts = _contexts()
    gens = [torch.Generator().manual_seed(s) for s in range(4)]
    rounds, _ = _play(
        _engine(policy),
        contexts,
        [[5, 3, 6, 4], [4, 6, 2, 5]],
        generators=gens,
        keys=list("abcd"),
        temperature=T,
    )
    ctx = [list(c) for c in contexts]
    for r, outs in enumerate(rounds):
        for i, out in enumerate(outs):
            assert len(out.logprobs) == len(out.ids)
            assert out.logprobs == pytest.approx(_scored(model, ctx[i], out.ids, T), abs=1e-4)
        ctx = [c + o.ids + _env_ids(r, i) for i, (c, o) in enumerate(zip(ctx, outs, strict=True))]


def test_stop_tokens_end_a_row_and_budgets_are_per_row(policy):
    contexts = _contexts()
    probe = _engine(policy).generate(contexts, max_new_tokens=[6] * 4, generators=[None] * 4)
    stop = probe[0].ids[2]
    budgets = [6, 1, 4, 9]
    outs = _engine(policy, [stop]).generate(contexts, max_new_tokens=budgets, generators=[None] * 4)
    first = probe[0].ids.index(stop)
    assert outs[0].stopped and outs[0].ids == probe[0].ids[: first + 1]
    for out, budget in zip(outs[1:], budgets[1:], strict=True):
        if out.stopped:
            assert out.ids[-1] == stop and len(out.ids) <= budget
        else:
            assert len(out.ids) == budget and stop not in out.ids


def test_release_frees_the_caches_and_memory_stays_bounded(policy):
    contexts = _contexts()
    engine = _engine(policy)
    for episode in range(3):
        keys = [(episode, i) for i in range(4)]
        rounds, final = _play(engine, contexts, [[3, 4, 5, 6], [2, 2, 2, 2]], keys=keys)
        # Each row keeps its last context and all but its last generated token.
        last_ctx = [
            c[: len(c) - len(o.ids) - e] for c, o, e in zip(final, rounds[-1], ENV_LENGTHS[1], strict=False)
        ]
        assert engine.cached_tokens == sum(
            len(c) + len(o.ids) - 1 for c, o in zip(last_ctx, rounds[-1], strict=True)
        )
        engine.release(keys)
        assert engine.cached_tokens == 0 and not engine._caches
    engine.release(["never-seen"])  # unknown keys are fine

    small = _engine(policy, max_cached_tokens=70)  # unreleased keys: least recently used are evicted
    for k in range(5):
        small.generate([_random_ids(30, seed=k)], max_new_tokens=[3], generators=[None], cache_keys=[k])
    assert small.cached_tokens <= 70 and list(small._caches) == [3, 4]


def _episodes_with_and_without_reuse(model, tok, overrides: list[str], n_tasks: int, seeds: list, tol: float):
    """Plays the same multi-round episodes with KV reuse off, then on; asserts identical tokens and logprobs.

    Returns the runner, for checks on its engine's counters.
    """
    import envs.tasks
    from rl.config import load_config
    from rl.rollout.setup import RolloutSetup, build_runner

    cfg = load_config(None, ["model.lora=null", "format.tool_style=compact", *overrides])
    tasks = envs.tasks.generate(n_tasks, "train", seed=0, categories=["multi_turn", "multi_step"])
    runner = build_runner(RolloutSetup.of(cfg), model, tok)
    runner.engine.reuse_kv = False
    want, _ = runner.run(tasks, seeds)
    runner.engine.reuse_kv = True
    got, _ = runner.run(tasks, seeds)
    assert [t.completion_ids for t in got] == [t.completion_ids for t in want]
    for g, w in zip(got, want, strict=True):
        assert g.logprobs == pytest.approx(w.logprobs, abs=tol)
    assert max(len(t.episode.steps) for t in got) >= 2  # multi-round episodes, so caches were reused
    assert runner.engine.reused_tokens > 0
    return runner


def test_episode_runner_with_reuse_plays_the_same_episodes_and_releases(policy):
    model, tok = policy
    runner = _episodes_with_and_without_reuse(
        model, tok, ["model.name_or_path=tiny-random", "rollout.max_new_tokens=6"], 6, [None, None, 3, 4, 5, 6], 1e-5
    )
    assert runner.engine.cached_tokens == 0  # the runner released every episode's cache


@pytest.mark.slow
def test_smollm2_episodes_with_reuse_equal_full_prefill():
    """The real model, greedy and sampled, over multi-round episodes: reuse changes nothing but speed."""
    model, tok = load_policy("smollm2-135m")
    _episodes_with_and_without_reuse(model, tok, ["rollout.max_new_tokens=10"], 4, [None, None, 5, 6], 1e-4)


@pytest.mark.parametrize("use_dora", [False, True], ids=["plain_lora_swapped_in_place", "dora_via_peft_merge"])
def test_set_weights_swaps_lora_adapters_on_merged_weights_and_drops_stale_caches(use_dora):
    """The worker's only weight call: a new adapter replaces the old one, as the learner has it. Plain LoRA
    swaps the merged delta in place; DoRA goes through PEFT's unmerge and merge."""
    import copy

    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    from rl.rollout.engine import Engine

    base, tok = load_policy("tiny-random")
    model = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                           use_dora=use_dora))
    learner = copy.deepcopy(model)  # the learner's copy: its adapter stays unmerged
    engine = HFEngine(model, tok.pad_token_id, [])
    assert isinstance(engine, Engine)
    assert (engine._plain_lora is None) == use_dora
    ctx = _contexts()[1]
    engine.generate([ctx], max_new_tokens=[3], generators=[None], cache_keys=["a"])
    assert engine.cached_tokens > 0
    for version in (1, 2, 3):
        state = {k: torch.randn_like(v) * 0.3 for k, v in get_peft_model_state_dict(learner).items()}
        set_peft_model_state_dict(learner, state)
        engine.set_weights(state, version)
        assert engine.cached_tokens == 0 and engine.weights_version == version
        merged = copy.deepcopy(learner).merge_and_unload()  # the new adapter merged once into the base
        got = model.get_base_model().state_dict()
        adapted = [name for name in merged.state_dict() if name not in got]
        assert adapted  # merged weights live in the adapted layers' base_layer
        gap = max((got[n.replace(".weight", ".base_layer.weight")] - merged.state_dict()[n]).abs().max().item()
                  for n in adapted)
        assert gap < 1e-5  # no earlier adapter's delta left in
        (out,) = engine.generate([ctx], max_new_tokens=[6], generators=[None])
        want, _ = _reference(merged.eval(), ctx, 6)
        assert out.ids == want


def test_a_budget_below_one_token_is_refused(policy):
    with pytest.raises(ValueError, match="max_new_tokens: every budget must be at least 1, got 0"):
        _engine(policy).generate([[5, 6, 7]], max_new_tokens=[0], generators=[None])
