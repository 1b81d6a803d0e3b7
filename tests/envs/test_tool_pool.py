"""envs/tool_pool.py and envs/retrieval.py: the open-world tool pool and BM25 retrieval over it."""

import pytest

from envs import bfcl, tasks, tool_pool
from envs.domains import DOMAINS
from envs.retrieval import BM25Retriever
from envs.schema import normalize_tool


@pytest.fixture(scope="module")
def pool():
    return tool_pool.load()


@pytest.fixture(scope="module")
def retriever(pool):
    return BM25Retriever(pool)


def test_pool_is_deterministic_one_tool_per_name_and_large(pool):
    again = tool_pool.load.__wrapped__()  # a second build, past the per-process cache
    assert [t.id for t in again.tools] == [t.id for t in pool.tools] and len(pool) >= 2000
    assert len(pool.by_id) == len(pool.by_name) == len(pool)  # ids and names unique
    assert all(t.id == tool_pool.tool_id(t.tool) and t.tool == normalize_tool(t.tool) for t in pool.tools)


def test_pool_holds_every_simulated_tool_and_every_bfcl_function_name(pool):
    for cls in DOMAINS.values():  # first in the pool: their own schemas
        assert {tool_pool.tool_id(t) for t in cls.tools()} <= set(pool.by_id)
    names = set(pool.by_name)
    for category in ("simple_python", "live_multiple", "simple_java", "irrelevance", "multi_turn_base"):
        for task in bfcl.load(category) if category != "simple_java" else []:
            assert {t["name"] for t in task.tools} <= names, task.id
    sources = {t.source for t in pool.tools}
    assert "bfcl:simple_java" in sources and "bfcl:multi_turn:gorilla_file_system" in sources


def test_variants_are_near_duplicates_of_a_simulated_tool(pool):
    variants = [t for t in pool.tools if t.source.startswith("variant:")]
    assert len(variants) >= 2 * sum(len(cls.tools()) for cls in DOMAINS.values()) - 5  # a few names BFCL has
    for v in variants:
        original = pool.by_id[v.source.removeprefix("variant:")]
        assert v.tool["function"]["parameters"] == original.tool["function"]["parameters"]
        assert v.name != original.name  # renamed, or the same family with a suffix and a paraphrase
    assert {v.name for v in variants} & {"fetch_balance", "lookup_balance", "retrieve_balance"}


def test_golden_tools_of_a_task_are_its_called_tools_in_the_pool(pool):
    for task in tasks.generate(60, "test", seed=3):
        called = {name for turn in task.ground_truth for call in turn for name in call}
        ids = pool.ids_of(task)
        assert sorted(pool.by_id[i].name for i in ids) == sorted(called)
        assert {pool.by_id[i].source.split(":")[0] for i in ids} <= {"toolgym"}


@pytest.mark.parametrize(
    "query,name",
    [
        ("Transfer 200 dollars from my checking account to savings", "transfer_funds"),
        ("What is the current price of AAPL stock?", "get_quote"),
        ("Turn off the lights in the kitchen", "set_power"),
        ("Book a hotel room in Rome for two nights", "book_hotel"),
        ("Calculate the area of a triangle given the base and height", "calculate_triangle_area"),
    ],
)
def test_bm25_finds_the_tool_a_query_describes_among_its_near_duplicates(retriever, query, name):
    hits = retriever.search(query, k=5)
    assert len(hits) == 5 and all(a[1] >= b[1] for a, b in zip(hits, hits[1:], strict=False))  # best first
    assert name in [tool.name for tool, _ in hits]


def test_bm25_ranks_a_bfcl_function_first_from_its_own_description(pool, retriever):
    functions = [t for t in pool.tools if t.source == "bfcl:simple_python"][:100]
    top = [retriever.search(f.tool["function"]["description"], k=1)[0][0].id for f in functions]
    # A description is the best query there is; the misses are near-namesakes (`math.gcd` and `gcd`).
    assert sum(t == f.id for t, f in zip(top, functions, strict=True)) >= 85


def test_search_is_deterministic_and_search_many_is_search(retriever):
    queries = ["book a flight to Rome", "turn off the kitchen lights", "zzzz qqqq"]
    many = retriever.search_many(queries, k=7)
    assert many == [retriever.search(q, k=7) for q in queries] == retriever.search_many(queries, k=7)
    assert all(score == 0 for _, score in many[2])  # no indexed word: nothing scores
    assert len(retriever.search("weather", k=10**6)) == len(retriever.pool)
