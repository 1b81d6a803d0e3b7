"""Entity pools shared by several domains, split into disjoint train and test halves.

Held-out evaluation needs held-out entities: every named pool here (people, cities, general requests)
has a `train` and a `test` list with no element in common (tests/envs checks it). Closed vocabularies
that are part of a tool's schema (enums, units) and numbers are shared by both splits.
"""

from __future__ import annotations

import functools
from typing import Any

SPLITS = ("train", "test")

FIRST_NAMES = {
    "train": ["Alice", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hugo", "Irene", "Jack",
              "Karen", "Leo", "Maria", "Nina", "Omar", "Paula", "Quinn", "Rosa", "Sam", "Tara",
              "Umar", "Vera", "Will", "Yara", "Zoe", "Aaron", "Bella", "Chris", "Diana", "Ethan"],
    "test": ["Felix", "Greta", "Hana", "Ivan", "Jonas", "Kira", "Lucas", "Mila", "Nadia", "Oscar",
             "Priya", "Rafael", "Sofia", "Theo", "Wendy"],
}
LAST_NAMES = {
    "train": ["Chen", "Garcia", "Smith", "Novak", "Patel", "Rossi", "Kim", "Johnson", "Silva", "Brown",
              "Lopez", "Nguyen", "Cohen", "Wright", "Okafor", "Ivanova", "Larsen", "Tanaka", "Murphy", "Dubois"],
    "test": ["Andersen", "Becker", "Costa", "Dimitrov", "Eriksen", "Fischer", "Haddad", "Ibrahim",
             "Kowalski", "Moreau"],
}
EMAIL_DOMAINS = {"train": ["example.com", "mail.example.org"], "test": ["corp.example.net", "inbox.example.io"]}

# name -> (country, latitude, longitude, aliases). Aliases are spellings a user would write and the
# ground truth accepts; the weather and travel APIs resolve them to the canonical name.
CITIES: dict[str, dict[str, tuple[str, float, float, tuple[str, ...]]]] = {
    "train": {
        "Paris": ("France", 48.86, 2.35, ()),
        "London": ("United Kingdom", 51.51, -0.13, ()),
        "Tokyo": ("Japan", 35.68, 139.69, ()),
        "New York": ("United States", 40.71, -74.01, ("NYC", "New York City")),
        "Berlin": ("Germany", 52.52, 13.40, ()),
        "Madrid": ("Spain", 40.42, -3.70, ()),
        "Rome": ("Italy", 41.90, 12.50, ()),
        "Sydney": ("Australia", -33.87, 151.21, ()),
        "Toronto": ("Canada", 43.65, -79.38, ()),
        "Chicago": ("United States", 41.88, -87.63, ()),
        "Los Angeles": ("United States", 34.05, -118.24, ("LA",)),
        "Amsterdam": ("Netherlands", 52.37, 4.90, ()),
        "Seoul": ("South Korea", 37.57, 126.98, ()),
        "Mumbai": ("India", 19.08, 72.88, ("Bombay",)),
        "Cairo": ("Egypt", 30.04, 31.24, ()),
        "Mexico City": ("Mexico", 19.43, -99.13, ("CDMX",)),
        "Dublin": ("Ireland", 53.35, -6.26, ()),
        "Vienna": ("Austria", 48.21, 16.37, ()),
        "Singapore": ("Singapore", 1.35, 103.82, ()),
        "Buenos Aires": ("Argentina", -34.60, -58.38, ()),
        "Lisbon": ("Portugal", 38.72, -9.14, ()),
        "Stockholm": ("Sweden", 59.33, 18.07, ()),
        "Bangkok": ("Thailand", 13.76, 100.50, ()),
        "Nairobi": ("Kenya", -1.29, 36.82, ()),
    },
    "test": {
        "San Francisco": ("United States", 37.77, -122.42, ("SF",)),
        "Rio de Janeiro": ("Brazil", -22.91, -43.17, ("Rio",)),
        "Prague": ("Czechia", 50.08, 14.44, ()),
        "Oslo": ("Norway", 59.91, 10.75, ()),
        "Istanbul": ("Turkey", 41.01, 28.98, ()),
        "Cape Town": ("South Africa", -33.92, 18.42, ()),
        "Hanoi": ("Vietnam", 21.03, 105.85, ()),
        "Athens": ("Greece", 37.98, 23.73, ()),
        "Montreal": ("Canada", 45.50, -73.57, ()),
        "Helsinki": ("Finland", 60.17, 24.94, ()),
        "Lima": ("Peru", -12.05, -77.04, ()),
        "Washington": ("United States", 38.91, -77.04, ("Washington DC", "DC")),
        "Copenhagen": ("Denmark", 55.68, 12.57, ()),
        "Osaka": ("Japan", 34.69, 135.50, ()),
        "Saint Petersburg": ("Russia", 59.94, 30.31, ("St. Petersburg",)),
    },
}

# Requests no tool serves (general knowledge, chit-chat): irrelevance tasks draw from these.
GENERAL_REQUESTS = {
    "train": [
        "Tell me a joke about cats.",
        "Who wrote Pride and Prejudice?",
        "Write a haiku about the ocean.",
        "What does the word 'serendipity' mean?",
        "Give me three tips for sleeping better.",
        "How do I boil an egg?",
        "Translate 'good morning' into Spanish.",
        "What's the capital of Australia?",
        "Summarize the plot of Hamlet in two sentences.",
        "Recommend a good science fiction book.",
    ],
    "test": [
        "Explain photosynthesis to a ten-year-old.",
        "Suggest a name for my new puppy.",
        "What's the difference between a violin and a viola?",
        "Compose a short limerick about coffee.",
        "Who painted the Mona Lisa?",
        "How many legs does a spider have?",
    ],
}

# Joins two requests into one message (parallel categories). `{b}` starts lower-case, `{B}` as written.
JOINERS = {
    "train": ["{a} Also, {b}", "{a} And {b}", "{a} Then {b}", "{a} After that, {b}", "{a} {B}"],
    "test": ["{a} Plus, {b}", "{a} On top of that, {b}", "Two things. {a} {B}"],
}

# The user's answer when the assistant asked for a missing value (multi-turn clarification).
CLARIFY = {
    "train": ["{value}.", "It's {value}.", "Oh, sorry: {value}.", "Use {value}.", "Make it {value}."],
    "test": ["{value}, please.", "Right, {value}.", "Go with {value}."],
}


@functools.cache
def all_cities() -> dict[str, tuple[str, float, float, tuple[str, ...]]]:
    """Every city of both splits (the APIs know all of them; the splits only choose which are asked about)."""
    return {**CITIES["train"], **CITIES["test"]}


@functools.cache
def city_aliases() -> dict[str, str]:
    """Lower-cased spelling (name, alias, "Name, Country") -> canonical city name."""
    out: dict[str, str] = {}
    for name, (country, _, _, aliases) in all_cities().items():
        for spelling in (name, *aliases, f"{name}, {country}"):
            out[spelling.casefold()] = name
    return out


def pools() -> dict[str, dict[str, Any]]:
    """Every shared pool by name, as {"train": ..., "test": ...} (used by the disjointness test)."""
    return {
        "first_names": FIRST_NAMES,
        "last_names": LAST_NAMES,
        "email_domains": EMAIL_DOMAINS,
        "cities": {s: list(CITIES[s]) for s in SPLITS},
        "general_requests": GENERAL_REQUESTS,
        "joiners": JOINERS,
        "clarify": CLARIFY,
    }
