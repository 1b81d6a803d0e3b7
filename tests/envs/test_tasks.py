"""Task generation: coverage, validity, determinism, and the held-out test split."""

from __future__ import annotations

import collections
import json
import random

import pytest

import envs
from envs import entities, tasks
from envs.domains import DOMAINS, MODULES
from envs.intents import split_items
from envs.schema import tool_name
from envs.types import CATEGORIES, Task
from envs.validate import validate_task


@pytest.fixture(scope="module")
def train() -> list[Task]:
    return tasks.generate(2000, "train", seed=0)


@pytest.fixture(scope="module")
def test_split() -> list[Task]:
    return tasks.generate(800, "test", seed=0)


def test_covers_all_categories(train: list[Task]):
    counts = collections.Counter(t.category for t in train)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 200


def test_every_task_validates(train: list[Task], test_split: list[Task]):
    rejects = [(t.id, r) for t in train + test_split for r in validate_task(t)]
    assert rejects == []


def test_expected_state_is_the_replayed_ground_truth(train: list[Task]):
    for t in train[:200]:
        states = envs.replay_ground_truth(t)
        assert len(states) == len(t.turns)
        assert states[-1] == t.expected_state


def test_same_seed_same_tasks_and_prefix_stable():
    a = [t.to_json() for t in tasks.generate(120, "train", seed=7)]
    b = [t.to_json() for t in tasks.generate(120, "train", seed=7)]
    assert a == b
    assert [t.to_json() for t in tasks.generate(30, "train", seed=7)] == a[:30]
    assert [t.to_json() for t in tasks.generate(120, "train", seed=8)] != a


def test_test_split_holds_out_phrasings(train: list[Task], test_split: list[Task]):
    def used(ts: list[Task]) -> set[str]:
        return {tid for t in ts for tid in t.metadata["template_ids"]}

    train_ids, test_ids = used(train), used(test_split)
    assert train_ids and test_ids and not train_ids & test_ids
    # ... and the phrasing texts themselves (not only their ids) never meet
    def texts(split: str) -> set[str]:
        out: set[str] = set()
        for d, m in MODULES.items():
            test_only = d in tasks.TEST_ONLY_DOMAINS
            for intent in m.INTENTS:
                out |= {t for _, t in split_items(intent.templates, split, test_only)}
                for phr in intent.missing.values():
                    out |= {t for _, t in split_items(phr, split, test_only)}
            out |= {t for _, t in split_items(m.OUT_OF_SCOPE, split, test_only)}
        for key in ("general_requests", "joiners", "clarify"):
            out |= set(entities.pools()[key][split])
        return out

    assert not texts("train") & texts("test")


def test_entity_pools_are_disjoint():
    pools = {f"shared.{k}": v for k, v in entities.pools().items()}
    for d, m in MODULES.items():
        for key in getattr(m, "ENTITIES", {}).get("train", {}):
            pools[f"{d}.{key}"] = {s: m.ENTITIES[s][key] for s in entities.SPLITS}
    assert len(pools) > 15
    for name, pool in pools.items():
        train, test = pool["train"], pool["test"]
        train = set(train) if not isinstance(train, dict) else set(train.items())
        test = set(test) if not isinstance(test, dict) else set(test.items())
        assert test and not train & test, name


def test_test_only_domains(train: list[Task], test_split: list[Task]):
    held_out = set(tasks.TEST_ONLY_DOMAINS)
    assert len(held_out) >= 2 and held_out <= set(DOMAINS)
    train_tools = {t["function"]["name"] for task in train for t in task.tools}
    held_out_tools = {n for d in held_out for n in DOMAINS[d].tool_specs()}
    assert not any(held_out & set(t.domains) for t in train)
    assert not train_tools & held_out_tools
    assert held_out <= {d for t in test_split for d in t.domains}
    with pytest.raises(ValueError, match="held out"):
        tasks.generate(1, "train", seed=0, domains=["smart_home"])


def test_phrasing_counts():
    for d, m in MODULES.items():
        for intent in m.INTENTS:
            for phrasings in (intent.templates, *intent.missing.values()):
                assert len(phrasings) >= 5, intent.id
                if d not in tasks.TEST_ONLY_DOMAINS:
                    assert len(split_items(phrasings, "train")) >= 5, intent.id
                    assert len(split_items(phrasings, "test")) >= 3, intent.id


def test_ground_truth_style(train: list[Task]):
    """Every tool argument is listed; omitted optionals accept "", defaults accept both."""
    for t in train[:400]:
        schemas = {tool["function"]["name"]: tool["function"]["parameters"] for tool in t.tools}
        for turn in t.ground_truth:
            for call in turn:
                (name, args), = call.items()
                params = schemas[name]
                assert set(args) == set(params["properties"]), (t.id, name)
                for arg, values in args.items():
                    default = params["properties"][arg].get("default")
                    if arg in params["required"]:
                        assert "" not in values
                    elif default is not None and default in values:
                        assert "" in values, (t.id, name, arg)


def test_equivalent_spellings_are_listed(train: list[Task]):
    aliased = [v for t in train for turn in t.ground_truth for call in turn for args in call.values()
               for k, v in args.items() if k == "city" and "NYC" in v]
    assert aliased and all("New York" in v for v in aliased)


def test_category_shapes(train: list[Task]):
    by_cat = collections.defaultdict(list)
    for t in train:
        by_cat[t.category].append(t)
    for t in by_cat["missing_param"]:
        assert t.ground_truth == [[]] and t.metadata["missing_param"]
        assert t.metadata["missing_tool"] in {x["function"]["name"] for x in t.tools}
    for t in by_cat["irrelevance"]:
        assert t.ground_truth == [[]]
        assert not set(t.metadata["fitting_tools"]) & {x["function"]["name"] for x in t.tools}
    assert {t.metadata["irrelevance_kind"] for t in by_cat["irrelevance"]} == {"other_domain", "out_of_scope", "general"}
    for t in by_cat["multi_turn"]:
        assert 2 <= len(t.turns) <= 3
    assert any(turn == [] for t in by_cat["multi_turn"] for turn in t.ground_truth)  # ask, then the user answers
    for t in by_cat["multiple"]:
        doms = {d for x in t.tools for d, cls in DOMAINS.items() if x["function"]["name"] in cls.tool_specs()}
        assert len(t.tools) >= 3 and len(doms) >= 2
    for t in by_cat["parallel"]:
        names = [next(iter(c)) for c in t.ground_truth[0]]
        assert len(names) >= 2 and len(set(names)) == 1


def test_multi_step_needs_the_first_calls_output(train: list[Task]):
    """The second call's id argument is what the first call returns in the initial state."""
    checked = 0
    for t in (t for t in train if t.category == "multi_step"):
        env = envs.env_for_task(t)
        env.reset(t)
        from envs.replay import tool_parameters, turn_calls

        first, second = turn_calls(t.ground_truth[0], tool_parameters(t.tools))[:2]
        (r,) = env.step([first])
        text = json.dumps(r.output)
        ids = [v for k, v in second.arguments.items() if k in ("event_id", "alert_id", "account_id", "flight_id",
                                                               "hotel_id", "ticket_id", "symbol", "device", "path")]
        for v in ids:
            assert json.dumps(v) in text or str(v) in text, (t.id, v, text)
            checked += 1
    assert checked > 100


def test_filters_and_bad_arguments():
    only = tasks.generate(24, "train", seed=1, categories=["simple", "parallel"], domains=["banking", "weather"])
    assert {t.category for t in only} == {"simple", "parallel"}
    assert {d for t in only for d in t.domains} <= {"banking", "weather"}
    with pytest.raises(ValueError, match="split"):
        tasks.generate(1, "dev", seed=0)
    with pytest.raises(ValueError, match="category"):
        tasks.generate(1, "train", seed=0, categories=["chit_chat"])


def test_user_messages_are_short_and_contain_their_entities(train: list[Task]):
    for t in train:
        for turn in t.turns:
            assert len(turn[0]["content"]) <= tasks.MAX_MESSAGE_CHARS
        if t.category == "simple":
            text = t.turns[0][0]["content"].casefold()
            (args,) = t.ground_truth[0][0].values()
            for key in ("city", "account_id", "order_id", "symbol", "booking_id", "sku"):
                if key in args:
                    assert any(isinstance(v, str) and v.casefold() in text for v in args[key]), (t.id, key)


def test_every_acceptable_value_executes_the_same(train: list[Task], test_split: list[Task]):
    """Equivalent spellings in the ground truth are equivalent for the env too: substituting any one
    acceptable value (or omitting an argument that allows it) reaches the same state without error, and a
    read gives the same output, so the execution reward agrees with the AST reward."""
    from envs.replay import concrete_value, replay, tool_parameters, turn_calls

    checked = 0
    sample = [t for t in train[:400] + test_split[:300] if t.category in ("simple", "parallel", "multi_step", "multi_turn")]
    for task in sample:
        params = tool_parameters(task.tools)
        base_calls = [turn_calls(turn, params) for turn in task.ground_truth]
        base_states, base_results = replay(task)
        for k, turn in enumerate(task.ground_truth):
            for i, call in enumerate(turn):
                (name, args), = call.items()
                for arg, values in args.items():
                    for v in values[1:]:
                        calls = [[type(c)(c.name, dict(c.arguments)) for c in cs] for cs in base_calls]
                        if v == "":
                            calls[k][i].arguments.pop(arg, None)
                        else:
                            calls[k][i].arguments[arg] = concrete_value(v, params[name]["properties"][arg])
                        env = envs.env_for_task(task, call_timeout_s=None)
                        env.reset(task)
                        results = [env.step(cs) for cs in calls]
                        where = (task.id, name, arg, v)
                        assert all(r.ok for rs in results for r in rs), (where, [r.error for rs in results for r in rs])
                        assert env.state() == base_states[-1], where
                        if v != "" and not isinstance(v, list):
                            assert results[k][i].output == base_results[k][i].output, where
                        checked += 1
    assert checked > 500


def test_near_miss_variants_offer_one_unneeded_tool_of_the_domain_where_removal_leaves_none():
    drawn = tasks.generate(12, "train", seed=4, categories=["simple", "multiple"])
    for task in drawn:
        needed = {name for turn in task.ground_truth for call in turn for name in call}
        plain, near = tasks.non_fc_variant(task), tasks.non_fc_variant(task, random.Random(0))
        if plain.tools:  # multiple: the distractors stay, and near misses change nothing
            assert near.tools == plain.tools
            continue
        (tool,) = near.tools
        domain_tools = {n for d in task.domains for n in DOMAINS[d].tool_specs()}
        assert tool_name(tool) in domain_tools - needed and near.ground_truth == [[]]
    assert any(not tasks.non_fc_variant(t).tools for t in drawn) and any(tasks.non_fc_variant(t).tools for t in drawn)
