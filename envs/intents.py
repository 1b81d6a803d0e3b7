"""What users ask for: intents, their phrasings, and helpers to state values the way people do.

Each domain module lists its `INTENTS`. An intent has several phrasing templates (the last ~3/8 are
held out for the test split) and a `sample` function that, given the episode's current state, picks
entities, fills the template slots and returns the ground-truth calls in BFCL possible-answer style
(each argument maps to its list of acceptable values). envs.tasks turns intents into tasks of every
category; the ground truth's optional arguments are completed there from the tool schemas.
"""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envs import entities

Calls = list[tuple[str, dict[str, list[Any]]]]


class NoSample(Exception):
    """The current state offers nothing this intent can be about (the generator picks another)."""


@dataclass
class Sample:
    """One filled-in request.

    Attributes:
        slots: Template slot -> text as the user writes it. A slot named like a parameter is also what
            the user says when asked for that parameter (multi-turn clarification).
        calls: Ground truth: (tool, {argument: acceptable values}); arguments left out are optional ones
            the user did not mention (envs.tasks fills in their default and "").
    """

    slots: dict[str, str]
    calls: Calls


@dataclass(frozen=True)
class Intent:
    """A kind of request.

    Attributes:
        id: "<domain>.<name>"; phrasing template ids are "<id>#<index>".
        templates: Phrasings with `{slot}` placeholders.
        sample: (rng, domain state, split) -> Sample. Must not modify the state.
        missing: Parameter -> phrasings that leave that required parameter out (missing_param tasks). A
            nested parameter is a dotted path ("items.quantity"); its last part names the slot.
    """

    id: str
    templates: tuple[str, ...]
    sample: Callable[[random.Random, dict[str, Any], str], Sample]
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return self.id.split(".", 1)[0]


def split_items(items: Sequence[Any], split: str, test_only: bool = False) -> list[tuple[int, Any]]:
    """The (index, item) pairs of a phrasing list that belong to `split`.

    The last ~3/8 of each list (at least one item) are held out for "test". A domain that only appears
    in test uses all of its phrasings there.
    """
    indexed = list(enumerate(items))
    if test_only:
        return indexed if split == "test" else []
    n_test = max(1, len(items) * 3 // 8)
    return indexed[-n_test:] if split == "test" else indexed[:-n_test]


# ---------------------------------------------------------------------------------------------------
# Saying values the way people do
# ---------------------------------------------------------------------------------------------------

BASE_DATE = datetime.date(2025, 1, 1)


def rand_date(rng: random.Random, days: int = 600) -> str:
    """An ISO date within `days` of 2025-01-01."""
    return (BASE_DATE + datetime.timedelta(days=rng.randrange(days))).isoformat()


def say_date(rng: random.Random, iso: str) -> str:
    """An ISO date as a user writes it: "2025-03-14", "March 14, 2025" or "14 March 2025"."""
    d = datetime.date.fromisoformat(iso)
    style = rng.randrange(3)
    if style == 0:
        return iso
    month = d.strftime("%B")
    return f"{month} {d.day}, {d.year}" if style == 1 else f"{d.day} {month} {d.year}"


def say_time(rng: random.Random, hhmm: str) -> str:
    """A 24h "HH:MM" time as "14:30" or "2:30 pm"."""
    h, m = map(int, hhmm.split(":"))
    if rng.random() < 0.6:
        return hhmm
    suffix = "am" if h < 12 else "pm"
    h12 = h % 12 or 12
    return f"{h12}:{m:02d} {suffix}" if m else f"{h12} {suffix}"


def say_money(rng: random.Random, amount: float) -> str:
    """A dollar amount as "$50", "$50.00", "50 dollars" or "50 USD"."""
    whole = float(amount).is_integer()
    num = f"{int(amount)}" if whole else f"{amount:.2f}"
    return rng.choice([f"${num}", f"${amount:,.2f}", f"{num} dollars", f"{num} USD"])


def and_list(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def orders(items: Sequence[Any]) -> list[list[Any]]:
    """Every ordering of a short list: list arguments are order-sensitive in BFCL's checker, but a
    user listing "rain and snow" accepts either order."""
    return [list(p) for p in itertools.permutations(items)] if len(items) <= 3 else [list(items)]


def unique(*values: Any) -> list[Any]:
    """Values without duplicates, in order."""
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def person(rng: random.Random, split: str) -> str:
    return f"{rng.choice(entities.FIRST_NAMES[split])} {rng.choice(entities.LAST_NAMES[split])}"


def people(rng: random.Random, split: str, k: int) -> list[str]:
    """k distinct full names (distinct first names, so they read as different people)."""
    firsts = rng.sample(entities.FIRST_NAMES[split], k)
    return [f"{f} {rng.choice(entities.LAST_NAMES[split])}" for f in firsts]


def email_of(name: str, split: str, rng: random.Random) -> str:
    first, last = name.lower().split(" ", 1)
    return f"{first}.{last.replace(' ', '')}@{rng.choice(entities.EMAIL_DOMAINS[split])}"


def say_city(rng: random.Random, city: str) -> tuple[str, list[str]]:
    """How the user names a city, and the spellings the ground truth accepts (user's first)."""
    country, _, _, aliases = entities.all_cities()[city]
    said = rng.choice([city, city, *aliases])
    return said, unique(said, city, *aliases, f"{city}, {country}")


def maybe(rng: random.Random, p: float, phrases: dict[Any, Sequence[str]]) -> tuple[str, Any]:
    """With probability p, mentions an optional value: returns (text for the slot, value), else ("", None).

    Args:
        phrases: value -> ways to say it inside a sentence (with their leading space).
    """
    if rng.random() >= p:
        return "", None
    value = rng.choice(list(phrases))
    return rng.choice(list(phrases[value])), value


def opt(args: dict[str, list[Any]], name: str, value: Any) -> dict[str, list[Any]]:
    """Adds an optional argument to ground-truth args when the user mentioned it (value is not None)."""
    if value is not None:
        args[name] = [value]
    return args


def pick(rng: random.Random, items: Sequence[Any], why: str) -> Any:
    """`rng.choice(items)`, or NoSample(why) when there is nothing to choose from."""
    if not items:
        raise NoSample(why)
    return rng.choice(items)
