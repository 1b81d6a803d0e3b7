"""Parse throughput of each tool-call format on realistic model outputs (for launch/bench.py formats)."""

from __future__ import annotations

import random
import time

from envs.formats import ANSWER, get_format
from envs.types import ToolCall

_CALLS = [
    [ToolCall("get_weather", {"city": "Paris", "unit": "celsius"})],
    [ToolCall("sales_growth.calculate", {"company": "XYZ", "years": 3}),
     ToolCall("financial_ratios.interest_coverage", {"company_name": "XYZ", "years": 3})],
    [ToolCall("book_flight", {"origin": "SFO", "destination": "JFK", "date": "2026-12-01", "passengers": 2,
                              "preferences": {"seat": "aisle", "meal": None}, "flexible": True})],
    [ToolCall("send_email", {"to": ["ana@example.com", "bo@example.com"], "subject": "Q3 \"final\" numbers",
                             "body": "Hi both,\nplease find the numbers attached. It's 12.5% up."})],
]


def _outputs(name: str, rng: random.Random, n: int) -> list[str]:
    fmt = get_format(name)
    outs = []
    for _ in range(n):
        calls = rng.choice(_CALLS)
        text = fmt.render_calls(calls)
        style = rng.random()
        if style < 0.2 and name != "decision":
            text = f"Sure, let me do that.\n```\n{text}\n```"  # fenced, with prose around
        elif style < 0.3:
            text = (ANSWER if name == "decision" else "") + "I can't help with that request."
        outs.append(text)
    return outs


def run(seconds: float = 1.0) -> dict:
    """Parses realistic outputs for ~`seconds` per format; returns calls/s and messages/s per format."""
    rng = random.Random(0)
    result = {}
    for name in ("json", "pythonic", "decision"):
        fmt = get_format(name)
        outs = _outputs(name, rng, 500)
        n_msgs = n_calls = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for text in outs:
                n_calls += len(fmt.parse(text).calls)
            n_msgs += len(outs)
        dt = time.perf_counter() - t0
        result[name] = {"calls_per_s": round(n_calls / dt), "messages_per_s": round(n_msgs / dt)}
    return result
