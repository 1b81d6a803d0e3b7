"""Task generation: every kind of function-calling situation, built from the domains' intents.

    tasks = generate(2000, "train", seed=0)           # categories round-robin, so all 8 are covered

Categories (see envs.types.CATEGORIES):
    simple             one request, the one tool it needs
    multiple           one request, the right tool among distractors from several domains
    parallel           one message asking the same thing 2-3 times (same tool, different arguments)
    parallel_multiple  one message with 2-3 different requests (different tools)
    multi_step         a later call needs an earlier call's output (look up an id, then act on it)
    multi_turn         2-3 user turns, sometimes a missing value the user gives when asked
    irrelevance        no offered tool fits: another domain's request, an on-topic request the tools
                       cannot serve, or a general question; the right move is to answer without calling
    missing_param      the user left out a required value; the right move is to ask (no call)

Held-out test split: phrasing templates and entity pools are disjoint from train, and the domains in
`TEST_ONLY_DOMAINS` appear only in test. Generation is deterministic in (seed, split), and task i does
not depend on n: `generate(10, ...)` is a prefix of `generate(1000, ...)` with the same arguments.

`non_fc_variant(task)` derives an abstaining task from a calling one by removing the tools its answer needs
(SFT's `sft.non_fc_ratio`, RL's `data.near_miss_ratio`).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from envs import entities
from envs.domains import DOMAINS, MODULES
from envs.env import Env, copy_state, stable_seed
from envs.intents import Intent, NoSample, Sample, split_items
from envs.replay import turn_calls
from envs.schema import tool_name
from envs.types import CATEGORIES, Task, TurnGroundTruth

TEST_ONLY_DOMAINS = ("smart_home", "ticketing")
GENERATOR = "toolgym.envs.tasks/1"
MAX_MESSAGE_CHARS = 250  # keeps prompts short for small models: a longer joined request is drawn again


def split_domains(split: str) -> list[str]:
    """The domains a split draws from (test-only domains are absent from train)."""
    _check_split(split)
    return [d for d in DOMAINS if split == "test" or d not in TEST_ONLY_DOMAINS]


def generate(
    n: int,
    split: str,
    seed: int,
    categories: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
) -> list[Task]:
    """Generates n tasks.

    Args:
        n: Number of tasks.
        split: "train" or "test" (held-out phrasings, entities and domains).
        seed: Generation is deterministic in (seed, split).
        categories: Restrict to these categories (default: all eight, in turn).
        domains: Restrict the offered tools to these domains (default: all of the split's domains).

    Returns:
        Tasks with ground truth per turn, initial and expected state, and provenance in `metadata`.
    """
    return list(iter_generate(n, split, seed, categories, domains))


def iter_generate(
    n: int,
    split: str,
    seed: int,
    categories: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
) -> Iterator[Task]:
    """Like `generate`, one task at a time (for progress bars and streaming writes)."""
    gen = _Generator(split, seed, categories, domains)
    for i in range(n):
        yield gen.task(i)


def _check_split(split: str) -> None:
    if split not in entities.SPLITS:
        raise ValueError(f"split must be one of {list(entities.SPLITS)}, got {split!r}")


class _Retry(Exception):
    """The draw did not work out (duplicate entities, a call that failed); draw again."""


@dataclass
class _Draft:
    turns: list[str]
    ground_truth: list[TurnGroundTruth]
    tools: list[str]
    initial: dict[str, Any]
    template_ids: list[str]
    intents: list[str]
    meta: dict[str, Any] = field(default_factory=dict)


def _decap(text: str) -> str:
    """Lower-cases a sentence's first letter so it can follow "Also, " ("What's" -> "what's", not "I'd")."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[0].isupper() and text[1].islower() else text


def complete_call(tool: str, args: dict[str, list[Any]], parameters: dict[str, Any]) -> dict[str, Any]:
    """Completes an intent's ground-truth call with every optional argument of the tool.

    BFCL's checker rejects an argument missing from the possible answer, so each optional argument the
    user did not mention is listed as `[default, ""]` (or `[""]` when the default is None), and a
    mentioned value equal to the default also accepts `""`.
    """
    props = parameters["properties"]
    required = set(parameters.get("required", []))
    unknown = set(args) - set(props)
    if unknown:
        raise ValueError(f"{tool}: ground truth names unknown arguments {sorted(unknown)}")
    out = {}
    for name, schema in props.items():
        default = schema.get("default")
        if name in args:
            values = list(args[name])
            if name not in required and default is not None and default in values and "" not in values:
                # the user said the default: leaving the argument out means the same
                values.append("")
        elif name in required:
            raise ValueError(f"{tool}: ground truth lacks the required argument {name!r}")
        else:
            values = [default, ""] if default not in (None, "") else [""]
        out[name] = values
    return {tool: out}


def _n_calls(intent: Intent, state: dict[str, Any], split: str) -> int:
    """How many calls the intent's requests take (2+: a multi_step intent), from a trial sample."""
    for attempt in range(20):
        try:
            return len(intent.sample(random.Random(attempt), state, split).calls)
        except NoSample:
            continue
    raise RuntimeError(f"intent {intent.id} never produces a sample")


class _Generator:
    def __init__(
        self, split: str, seed: int, categories: Sequence[str] | None, domains: Sequence[str] | None
    ) -> None:
        _check_split(split)
        self.split, self.seed = split, int(seed)
        self.categories = list(categories) if categories else list(CATEGORIES)
        for c in self.categories:
            if c not in CATEGORIES:
                raise ValueError(f"unknown category {c!r}; choose from {list(CATEGORIES)}")
        allowed = split_domains(split)
        self.domains = list(domains) if domains else allowed
        for d in self.domains:
            if d not in allowed:
                why = "is held out for the test split" if d in DOMAINS else "is not a domain"
                raise ValueError(f"domain {d!r} {why} (domains for {split}: {allowed})")
        self.params: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        for cls in DOMAINS.values():
            for name, spec in cls.tool_specs().items():
                self.params[name] = spec.schema["function"]["parameters"]
                self.schemas[name] = spec.schema
        self.templates: dict[str, list[tuple[str, str]]] = {}
        self.single: dict[str, list[Intent]] = {}
        self.chain: dict[str, list[Intent]] = {}
        self.missing: dict[str, list[tuple[Intent, str]]] = {}
        for d in allowed:
            test_only = d in TEST_ONLY_DOMAINS
            probe = MODULES[d].build_state(random.Random(0), split)
            for intent in MODULES[d].INTENTS:
                self._add_templates(intent.id, intent.templates, test_only)
                if not self.templates[intent.id]:
                    continue
                kind = self.chain if _n_calls(intent, probe, split) > 1 else self.single
                kind.setdefault(d, []).append(intent)
                for param, phr in intent.missing.items():
                    self._add_templates(f"{intent.id}/missing:{param}", phr, test_only)
                    if self.templates[f"{intent.id}/missing:{param}"]:
                        self.missing.setdefault(d, []).append((intent, param))
            self._add_templates(f"{d}.out_of_scope", MODULES[d].OUT_OF_SCOPE, test_only)
        for key in ("general_requests", "joiners", "clarify"):
            items = entities.pools()[key][split]
            self.templates[key] = [(f"{key}:{split}#{i}", t) for i, t in enumerate(items)]
        self._envs: dict[tuple[str, ...], Env] = {}
        self._static: dict[str, dict[str, Any]] = {}

    # -- plumbing -------------------------------------------------------------------------------
    def _add_templates(self, key: str, items: Sequence[str], test_only: bool) -> None:
        self.templates[key] = [(f"{key}#{i}", t) for i, t in split_items(items, self.split, test_only)]

    def task(self, i: int) -> Task:
        """Task i of this (split, seed): its own RNG, so it does not depend on the tasks before it."""
        category = self.categories[i % len(self.categories)]
        rng = random.Random(zlib.crc32(f"{self.split}:{self.seed}:{i}".encode()))
        build = getattr(self, f"_{category}")
        for _ in range(50):
            try:
                draft = build(rng)
                break
            except (_Retry, NoSample):
                continue
        else:
            raise RuntimeError(f"could not generate a {category} task (index {i}); an intent keeps failing")
        env = self._env(draft.initial)
        meta = {
            "template_id": draft.template_ids[0],
            "template_ids": draft.template_ids,
            "intents": draft.intents,
            "split": self.split,
            "seed": self.seed,
            "index": i,
            "generator": GENERATOR,
            **draft.meta,
        }
        return Task(
            id=f"gen-{self.split}-s{self.seed}-{i:06d}",
            category=category,
            turns=[[{"role": "user", "content": t}] for t in draft.turns],
            tools=[self.schemas[name] for name in draft.tools],
            ground_truth=draft.ground_truth,
            domains=sorted(draft.initial),
            initial_state=draft.initial,
            expected_state=env.state(),
            metadata=meta,
        )

    def _env(self, initial: dict[str, Any]) -> Env:
        key = tuple(sorted(initial))
        env = self._envs.get(key)
        if env is None:
            env = self._envs[key] = Env([DOMAINS[d] for d in key], call_timeout_s=None)
        return env

    def _start(self, rng: random.Random, primary: Sequence[str], extra: Sequence[str] = ()) -> tuple[Env, dict]:
        """A fresh world: new states for the primary domains, the split's fixed world for the others."""
        initial = {d: MODULES[d].build_state(rng, self.split) for d in primary}
        for d in extra:
            if d not in initial:
                if d not in self._static:
                    seeded = random.Random(stable_seed(f"{self.split}:{d}"))
                    self._static[d] = MODULES[d].build_state(seeded, self.split)
                initial[d] = copy_state(self._static[d])
        env = self._env(initial)
        env.load_state(initial)
        return env, initial

    def _complete(self, sample: Sample) -> TurnGroundTruth:
        return [complete_call(tool, args, self.params[tool]) for tool, args in sample.calls]

    def _play(self, env: Env, gt: TurnGroundTruth) -> None:
        for result in env.step(turn_calls(gt, self.params)):
            if not result.ok:
                raise _Retry(result.error)

    def _phrase(self, rng: random.Random, key: str, slots: dict[str, str]) -> tuple[str, str]:
        tid, template = rng.choice(self.templates[key])
        return tid, template.format(**slots)

    def _join(self, rng: random.Random, parts: list[str], tids: list[str]) -> str:
        text = parts[0]
        for part in parts[1:]:
            jid, joiner = rng.choice(self.templates["joiners"])
            tids.append(jid)
            text = joiner.format(a=text, b=_decap(part), B=part)
        if len(text) > MAX_MESSAGE_CHARS:
            raise _Retry("message too long")
        return text

    def _domain(self, rng: random.Random, table: dict[str, list[Any]], among: Sequence[str] | None = None) -> str:
        options = [d for d in (among or self.domains) if table.get(d)]
        if not options:
            raise ValueError(f"no domain among {list(among or self.domains)} supports this category")
        return rng.choice(options)

    def _sample(self, rng: random.Random, env: Env, intent: Intent) -> Sample:
        return intent.sample(rng, env.apis[intent.domain].s, self.split)

    def _distractors(self, rng: random.Random, domain: str, exclude: set[str], k: int) -> list[str]:
        pool = [t for t in DOMAINS[domain].tool_specs() if t not in exclude]
        return rng.sample(pool, min(k, len(pool)))

    def _single_request(self, rng: random.Random, env: Env, d: str) -> tuple[Intent, Sample, str, str]:
        intent = rng.choice(self.single[d])
        sample = self._sample(rng, env, intent)
        tid, text = self._phrase(rng, intent.id, sample.slots)
        return intent, sample, tid, text

    # -- categories -----------------------------------------------------------------------------
    def _simple(self, rng: random.Random) -> _Draft:
        d = self._domain(rng, self.single)
        env, initial = self._start(rng, [d])
        intent, sample, tid, text = self._single_request(rng, env, d)
        gt = self._complete(sample)
        self._play(env, gt)
        return _Draft([text], [gt], [t for t, _ in sample.calls], initial, [tid], [intent.id])

    def _multiple(self, rng: random.Random) -> _Draft:
        d = self._domain(rng, self.single)
        others = rng.sample([o for o in self.domains if o != d], min(2, len(self.domains) - 1))
        env, initial = self._start(rng, [d], others)
        intent, sample, tid, text = self._single_request(rng, env, d)
        gt = self._complete(sample)
        self._play(env, gt)
        target = [t for t, _ in sample.calls]
        tools = target + self._distractors(rng, d, set(target), rng.randint(1, 2))
        for o in others:
            tools += self._distractors(rng, o, set(), 1)
        rng.shuffle(tools)
        return _Draft([text], [gt], tools, initial, [tid], [intent.id])

    def _parallel(self, rng: random.Random) -> _Draft:
        d = self._domain(rng, self.single)
        env, initial = self._start(rng, [d])
        intent = rng.choice(self.single[d])
        k = 3 if rng.random() < 0.3 else 2
        samples: list[Sample] = []
        for _ in range(10 * k):
            s = self._sample(rng, env, intent)
            if all(s.calls != o.calls for o in samples):
                samples.append(s)
            if len(samples) == k:
                break
        if len(samples) < 2:
            raise _Retry("not enough distinct requests")
        tids, parts = [], []
        for s in samples:
            tid, text = self._phrase(rng, intent.id, s.slots)
            tids.append(tid)
            parts.append(text)
        text = self._join(rng, parts, tids)
        gt = [c for s in samples for c in self._complete(s)]
        self._play(env, gt)
        return _Draft([text], [gt], [samples[0].calls[0][0]], initial, tids, [intent.id] * len(samples))

    def _parallel_multiple(self, rng: random.Random) -> _Draft:
        d = self._domain(rng, self.single)
        second = [o for o in self.domains if o != d and self.single.get(o)]
        doms = [d, rng.choice(second)] if second and rng.random() < 0.4 else [d]
        env, initial = self._start(rng, doms)
        k = 3 if rng.random() < 0.25 else 2
        picked: list[tuple[Intent, Sample]] = []
        used_tools: set[str] = set()
        for _ in range(10 * k):
            dom = doms[len(picked) % len(doms)]
            intent = rng.choice(self.single[dom])
            s = self._sample(rng, env, intent)
            tool = s.calls[0][0]
            if tool not in used_tools:
                picked.append((intent, s))
                used_tools.add(tool)
            if len(picked) == k:
                break
        if len(picked) < 2:
            raise _Retry("not enough distinct tools")
        tids, parts = [], []
        for intent, s in picked:
            tid, text = self._phrase(rng, intent.id, s.slots)
            tids.append(tid)
            parts.append(text)
        text = self._join(rng, parts, tids)
        gt = [c for _, s in picked for c in self._complete(s)]
        self._play(env, gt)
        tools = sorted(used_tools) + self._distractors(rng, d, used_tools, 1)
        rng.shuffle(tools)
        return _Draft([text], [gt], tools, initial, tids, [i.id for i, _ in picked])

    def _multi_step(self, rng: random.Random) -> _Draft:
        d = self._domain(rng, self.chain)
        env, initial = self._start(rng, [d])
        intent = rng.choice(self.chain[d])
        sample = self._sample(rng, env, intent)
        tid, text = self._phrase(rng, intent.id, sample.slots)
        gt = self._complete(sample)
        self._play(env, gt)
        tools = list(DOMAINS[d].tool_specs())
        rng.shuffle(tools)
        return _Draft([text], [gt], tools, initial, [tid], [intent.id])

    def _multi_turn(self, rng: random.Random) -> _Draft:
        d = self._domain(rng, self.single)
        env, initial = self._start(rng, [d])
        n_turns = rng.choice([2, 2, 3])
        turns, gts, tids, intents = [], [], [], []
        missing: list[list[str] | None] = []  # per turn: the parameters a clarifying question should ask for
        while len(turns) < n_turns:
            if self.missing.get(d) and n_turns - len(turns) >= 2 and rng.random() < 0.35:
                intent, param = rng.choice(self.missing[d])
                sample = self._sample(rng, env, intent)
                tid, ask = self._phrase(rng, f"{intent.id}/missing:{param}", sample.slots)
                cid, answer = self._phrase(rng, "clarify", {"value": sample.slots[param.rsplit(".", 1)[-1]]})
                answer = answer[:1].upper() + answer[1:]  # "kilograms." -> "Kilograms."
                gt = self._complete(sample)
                self._play(env, gt)
                turns += [ask, answer]
                gts += [[], gt]
                missing += [[param], None]
                tids += [tid, cid]
                intents += [intent.id, intent.id]
                continue
            intent = rng.choice(self.single[d] + self.chain.get(d, []))
            sample = self._sample(rng, env, intent)
            tid, text = self._phrase(rng, intent.id, sample.slots)
            gt = self._complete(sample)
            if gt in gts:
                raise _Retry("a turn repeats an earlier request")
            self._play(env, gt)
            turns.append(text)
            gts.append(gt)
            tids.append(tid)
            intents.append(intent.id)
            missing.append(None)
        tools = list(DOMAINS[d].tool_specs())
        rng.shuffle(tools)
        meta = {"missing_params": missing} if any(missing) else {}
        return _Draft(turns, gts, tools, initial, tids, intents, meta)

    def _irrelevance(self, rng: random.Random) -> _Draft:
        kind = rng.choices(["other_domain", "out_of_scope", "general"], weights=[4, 3, 2])[0]
        if kind == "out_of_scope":
            d = rng.choice(self.domains)
            if not self.templates[f"{d}.out_of_scope"]:
                raise _Retry("no out-of-scope phrasings")
            tid, text = self._phrase(rng, f"{d}.out_of_scope", {})
            _, initial = self._start(rng, [], [d])
            tools = self._distractors(rng, d, set(), rng.randint(3, 4))
            return _Draft([text], [[]], tools, initial, [tid], [],
                          {"irrelevance_kind": kind, "fitting_tools": []})
        offered = rng.sample(self.domains, min(rng.randint(1, 2), len(self.domains)))
        if kind == "general":
            tid, text = self._phrase(rng, "general_requests", {})
            intents, fitting = [], []
        else:
            a = rng.choice([o for o in split_domains(self.split) if o not in offered and self.single.get(o)])
            world, _ = self._start(rng, [a])
            intent, _, tid, text = self._single_request(rng, world, a)
            intents, fitting = [intent.id], sorted(DOMAINS[a].tool_specs())
        _, initial = self._start(rng, [], offered)
        tools = [t for o in offered for t in self._distractors(rng, o, set(), rng.randint(2, 3))]
        rng.shuffle(tools)
        return _Draft([text], [[]], tools, initial, [tid], intents,
                      {"irrelevance_kind": kind, "fitting_tools": fitting})

    def _missing_param(self, rng: random.Random) -> _Draft:
        d = self._domain(rng, self.missing)
        env, initial = self._start(rng, [d])
        intent, param = rng.choice(self.missing[d])
        sample = self._sample(rng, env, intent)
        tid, text = self._phrase(rng, f"{intent.id}/missing:{param}", sample.slots)
        tool = sample.calls[0][0]
        tools = [tool] + self._distractors(rng, d, {tool}, rng.randint(1, 2))
        rng.shuffle(tools)
        return _Draft([text], [[]], tools, initial, [tid], [intent.id],
                      {"missing_param": param, "missing_tool": tool})


# ---------------------------------------------------------------------------------------------------
# Derived tasks
# ---------------------------------------------------------------------------------------------------


NON_FC_SUFFIX = "/non_fc"  # a non-FC variant's id is its source task's id with this suffix


def non_fc_variant(task: Task, near_miss: random.Random | None = None) -> Task | None:
    """The same request with the tools its answer needs removed: the right reply has no call.

    Args:
        task: A task whose ground truth has calls.
        near_miss: When removing the needed tools leaves none (simple and parallel tasks offer only those),
            offer instead one tool of the task's domain that the answer does not need, drawn with this rng.
            That is BFCL's irrelevance shape (one near-topic function); without it such a variant offers no
            tool at all, and abstaining needs no judgement of what the tools do.

    Returns:
        The variant, or None for tasks whose ground truth has no call (they already teach not calling).
    """
    needed = {name for turn in task.ground_truth for call in turn for name in call}
    if not needed:
        return None
    tools = [t for t in task.tools if tool_name(t) not in needed]
    if not tools and near_miss is not None:
        unneeded: dict[str, dict[str, Any]] = {}  # name -> schema, the first domain's where two share a name
        for d in (d for d in task.domains if d in DOMAINS):
            for name, spec in DOMAINS[d].tool_specs().items():
                if name not in needed:
                    unneeded.setdefault(name, spec.schema)
        if unneeded:
            tools = [unneeded[near_miss.choice(sorted(unneeded))]]
    return Task(
        id=task.id + NON_FC_SUFFIX,
        category="irrelevance",
        turns=task.turns[:1],
        tools=tools,
        ground_truth=[[]],
        domains=task.domains,
        initial_state=task.initial_state,
        metadata={**task.metadata, "synthetic": "non_fc", "removed_tools": sorted(needed), "missing_param": None,
                  "missing_params": None},
    )
