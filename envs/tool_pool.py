"""The open-world tool pool: every tool an agent could be offered, for retrieval (envs/retrieval.py).

    pool = envs.tool_pool.load()            # deterministic, built once per process from packaged data
    pool.by_id["t3f9c2a1b7d"].tool          # OpenAI-form schema
    pool.ids_of(task)                       # the ids of a task's golden tools

Three sources, each tool under a name of its own:
- every tool of the simulated domains (envs/domains);
- every function in the BFCL v4 data of the `bfcl-eval` wheel (single-turn categories, Java and JavaScript
  included, and the multi-turn API docs), when the wheel is installed;
- synthetic near-duplicates of the simulated tools: the same schema under a synonym's name ("fetch_balance" for
  "get_balance"), and the same name family with a paraphrased description and a suffix ("get_balance_legacy").
  They are hard negatives: retrieval must tell them from the real tool by its wording, and calling one is a
  call to a tool the task does not have.

A name is a tool's handle once it is retrieved, so a name appears once: BFCL repeats many functions across its
categories and tasks, some with a reworded description or another `required` list (3,420 schemas under 1,998
names), and the pool keeps the first schema of each name in a fixed order (simulated domains, then BFCL's files
sorted by name, then the variants). A tool's id is a hash of its name and canonical schema, so it is the same in
every build. The pool is built in memory from packaged files in well under a second, so it is cached per process
rather than on disk.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from envs.schema import normalize_tool, tool_name
from envs.types import Task

# Synonyms for the first word of a simulated tool's name: a renamed near-duplicate uses one.
_VERB_SYNONYMS = {
    "get": ["fetch", "retrieve", "lookup"], "list": ["show", "enumerate", "browse"], "find": ["search", "locate"],
    "create": ["add", "new", "open"], "add": ["insert", "append"], "delete": ["remove", "erase"],
    "remove": ["delete", "drop"], "cancel": ["revoke", "abort"], "update": ["modify", "edit"], "set": ["configure",
    "assign"], "send": ["post", "dispatch"], "book": ["reserve"], "buy": ["purchase", "order"], "sell": ["liquidate"],
    "convert": ["transform", "translate"], "transfer": ["move", "wire"], "pay": ["settle"], "read": ["open", "view"],
    "write": ["save", "store"], "move": ["relocate"], "search": ["query", "find"], "check": ["verify", "inspect"],
}
_SUFFIXES = ["legacy", "v2", "beta", "bulk", "async"]
_PARAPHRASES = [
    "Legacy endpoint kept for old clients: {d}",
    "Experimental variant. {d}",
    "Batch version for administrators. {d}",
    "Deprecated; use the current endpoint instead. {d}",
]


@dataclass(frozen=True)
class PoolTool:
    """One tool of the pool: a stable id, where it comes from, and its OpenAI-form schema."""

    id: str
    name: str
    source: str  # "toolgym:<domain>", "bfcl:<category>" or "variant:<id of the original>"
    tool: dict[str, Any]

    def text(self) -> str:
        """What retrieval indexes: the name split into words, the description, and each parameter's name and
        description."""
        fn = self.tool["function"]
        words = [fn["name"].replace("_", " ").replace(".", " "), fn.get("description", "")]
        for pname, spec in fn.get("parameters", {}).get("properties", {}).items():
            words += [pname.replace("_", " "), str(spec.get("description", ""))]
        return " ".join(words)


@dataclass(frozen=True)
class ToolPool:
    tools: tuple[PoolTool, ...]

    @functools.cached_property
    def by_id(self) -> dict[str, PoolTool]:
        return {t.id: t for t in self.tools}

    def __len__(self) -> int:
        return len(self.tools)

    @functools.cached_property
    def by_name(self) -> dict[str, PoolTool]:
        return {t.name: t for t in self.tools}

    def ids_of(self, task: Task) -> list[str]:
        """The pool ids of the tools a task's ground truth calls (its golden tools), in first-call order. A BFCL
        task's own copy of a function may word it differently from the pool's; the name is what is looked up."""
        called = dict.fromkeys(name for turn in task.ground_truth for call in turn for name in call)
        return [self.by_name[name].id for name in called if name in self.by_name]


def tool_id(tool: dict[str, Any]) -> str:
    """A stable id from a tool's name and canonical (normalised, key-sorted) schema."""
    canonical = json.dumps(normalize_tool(tool), sort_keys=True, separators=(",", ":"))
    return "t" + hashlib.sha1(canonical.encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def load() -> ToolPool:
    """The pool, built once per process (see the module docstring)."""
    from envs.domains import DOMAINS

    entries: dict[str, PoolTool] = {}  # by name: the first schema of a name stays

    def add(tool: dict[str, Any], source: str) -> PoolTool:
        normalized = normalize_tool(tool)
        name = tool_name(normalized)
        return entries.setdefault(name, PoolTool(tool_id(normalized), name, source, normalized))

    simulated = [add(t, f"toolgym:{domain}") for domain, cls in sorted(DOMAINS.items()) for t in cls.tools()]
    for tool, source in _bfcl_tools():
        add(tool, source)
    for original in simulated:
        for variant in _variants(original):
            add(variant, f"variant:{original.id}")
    return ToolPool(tuple(entries.values()))


def _variants(original: PoolTool) -> list[dict[str, Any]]:
    """Two near-duplicates of a simulated tool, drawn from a generator seeded by its id (deterministic)."""
    rng = random.Random(original.id)
    fn = original.tool["function"]
    verb, _, rest = fn["name"].partition("_")
    synonym = rng.choice(_VERB_SYNONYMS.get(verb, ["do"]))
    renamed = {**fn, "name": f"{synonym}_{rest}" if rest else f"{synonym}_{verb}"}
    paraphrased = {**fn, "name": f"{fn['name']}_{rng.choice(_SUFFIXES)}",
                   "description": rng.choice(_PARAPHRASES).format(d=fn.get("description", ""))}
    return [{"type": "function", "function": renamed}, {"type": "function", "function": paraphrased}]


def _bfcl_tools() -> list[tuple[dict[str, Any], str]]:
    """Every function doc of the BFCL v4 data, in file order; none when bfcl-eval is not installed."""
    try:
        from envs.bfcl import data_dir

        root = data_dir()
    except ModuleNotFoundError:
        return []
    out = []
    for path in sorted(root.glob("BFCL_v4_*.json")):
        category = path.stem.removeprefix("BFCL_v4_")
        if category == "format_sensitivity":  # an index of other categories' ids, one JSON document
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out += [(fn, f"bfcl:{category}") for fn in json.loads(line).get("function") or []]
    for path in sorted((root / "multi_turn_func_doc").glob("*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append((json.loads(line), f"bfcl:multi_turn:{path.stem}"))
    return out
