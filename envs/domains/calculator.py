"""Math and unit conversion: units, currencies, arithmetic, statistics, and named variables."""

from __future__ import annotations

import math
import random
import statistics as stats
from typing import Any, Literal

from envs.api import SimulatedAPI, ToolError, find_key, readonly
from envs.intents import Intent, Sample, and_list, say_money

Unit = Literal["meters", "kilometers", "centimeters", "miles", "feet", "inches", "kilograms", "grams", "pounds",
               "ounces", "celsius", "fahrenheit", "kelvin", "liters", "milliliters", "gallons", "cups"]
# unit -> (dimension, size in the dimension's base unit); temperatures convert through formulas
_UNITS = {"meters": ("length", 1.0), "kilometers": ("length", 1000.0), "centimeters": ("length", 0.01),
          "miles": ("length", 1609.344), "feet": ("length", 0.3048), "inches": ("length", 0.0254),
          "kilograms": ("mass", 1.0), "grams": ("mass", 0.001), "pounds": ("mass", 0.45359237),
          "ounces": ("mass", 0.028349523125), "liters": ("volume", 1.0), "milliliters": ("volume", 0.001),
          "gallons": ("volume", 3.785411784), "cups": ("volume", 0.2365882365),
          "celsius": ("temperature", 0.0), "fahrenheit": ("temperature", 0.0), "kelvin": ("temperature", 0.0)}
_OPS = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
        "divide": lambda a, b: a / b, "power": lambda a, b: a ** b, "modulo": lambda a, b: a % b}
RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 151.0, "CAD": 1.36, "CHF": 0.88,
         "AUD": 1.52, "SEK": 10.6, "INR": 83.2, "MXN": 17.1, "NZD": 1.65, "KRW": 1350.0}
ENTITIES = {
    "train": {"currencies": ["USD", "EUR", "GBP", "JPY", "CAD", "CHF"],
              "variables": ["budget", "total", "rent", "x", "savings_goal", "fuel_cost"]},
    "test": {"currencies": ["AUD", "SEK", "INR", "MXN", "NZD", "KRW"],
             "variables": ["tip", "distance", "score", "deposit"]},
}


class CalculatorAPI(SimulatedAPI):
    """A calculator with unit and currency conversion and a memory of named values."""

    domain = "calculator"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    @readonly
    def convert_units(self, value: float, from_unit: Unit, to_unit: Unit) -> dict[str, Any]:
        """Converts a quantity between units of length, mass, volume or temperature.

        Args:
            value: The quantity to convert.
            from_unit: Its unit.
            to_unit: The unit to convert to.
        """
        (dim_a, size_a), (dim_b, size_b) = _UNITS[from_unit], _UNITS[to_unit]
        if dim_a != dim_b:
            raise ToolError(f"cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit})")
        if dim_a == "temperature":
            kelvin = {"celsius": value + 273.15, "fahrenheit": (value - 32) * 5 / 9 + 273.15, "kelvin": value}[from_unit]
            result = {"celsius": kelvin - 273.15, "fahrenheit": (kelvin - 273.15) * 9 / 5 + 32, "kelvin": kelvin}[to_unit]
        else:
            result = value * size_a / size_b
        return {"value": round(result, 4), "unit": to_unit}

    @readonly
    def convert_currency(self, amount: float, from_currency: str, to_currency: str) -> dict[str, Any]:
        """Converts money between currencies at the stored exchange rates.

        Args:
            amount: The amount of money.
            from_currency: ISO code of its currency, e.g. "USD".
            to_currency: ISO code to convert to, e.g. "EUR".
        """
        src = find_key(self.s["rates"], from_currency, "currency")
        dst = find_key(self.s["rates"], to_currency, "currency")
        return {"amount": round(amount / self.s["rates"][src] * self.s["rates"][dst], 2), "currency": dst}

    @readonly
    def basic_math(
        self, operation: Literal["add", "subtract", "multiply", "divide", "power", "modulo"], a: float, b: float
    ) -> dict[str, Any]:
        """Applies an arithmetic operation to two numbers: a (operation) b.

        Args:
            operation: What to compute.
            a: The first number.
            b: The second number.
        """
        if operation in ("divide", "modulo") and b == 0:
            raise ToolError("division by zero")
        try:
            result = _OPS[operation](float(a), float(b))
        except (OverflowError, ZeroDivisionError) as e:
            raise ToolError(f"cannot compute: {e}") from None
        if isinstance(result, complex) or not math.isfinite(result):
            raise ToolError("the result is not a finite real number")
        return {"result": round(result, 6)}

    @readonly
    def statistics(
        self, numbers: list[float], measure: Literal["mean", "median", "min", "max", "sum", "stdev"] = "mean"
    ) -> dict[str, Any]:
        """Computes a summary statistic of a list of numbers.

        Args:
            numbers: The data.
            measure: Which statistic.
        """
        if not numbers or (measure == "stdev" and len(numbers) < 2):
            raise ToolError(f"{measure} needs {'two' if measure == 'stdev' else 'one'} or more numbers")
        fn = {"mean": stats.fmean, "median": stats.median, "min": min, "max": max, "sum": math.fsum,
              "stdev": stats.stdev}[measure]
        return {"measure": measure, "result": round(float(fn(numbers)), 6)}

    def store_variable(self, name: str, value: float) -> dict[str, Any]:
        """Saves a number under a name for later.

        Args:
            name: The variable name.
            value: The number to store.
        """
        if not name.strip():
            raise ToolError("the variable name must not be empty")
        self.s["variables"][name.strip()] = value
        return {"name": name.strip(), "value": value}

    @readonly
    def get_variable(self, name: str) -> dict[str, Any]:
        """Reads a stored number.

        Args:
            name: The variable name.
        """
        key = find_key(self.s["variables"], name, "variable")
        return {"name": key, "value": self.s["variables"][key]}

    def set_exchange_rate(self, currency: str, per_usd: float) -> dict[str, Any]:
        """Sets a currency's exchange rate.

        Args:
            currency: ISO code, e.g. "EUR".
            per_usd: Units of the currency that one US dollar buys.
        """
        code = currency.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ToolError(f"{currency!r} is not an ISO currency code")
        if per_usd <= 0:
            raise ToolError("the rate must be positive")
        self.s["rates"][code] = per_usd
        return {"currency": code, "per_usd": per_usd}


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: today's exchange rates (jittered) and one or two stored variables."""
    rates = {c: round(r * rng.uniform(0.97, 1.03), 4) if c != "USD" else 1.0 for c, r in RATES.items()}
    names = rng.sample(ENTITIES[split]["variables"], 2)
    return {"rates": rates, "variables": {n: float(rng.randrange(1, 500)) for n in names[: rng.randint(1, 2)]}}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------

_PAIRS = [("miles", "kilometers"), ("kilometers", "miles"), ("feet", "meters"), ("meters", "feet"),
          ("inches", "centimeters"), ("pounds", "kilograms"), ("kilograms", "pounds"), ("ounces", "grams"),
          ("celsius", "fahrenheit"), ("fahrenheit", "celsius"), ("celsius", "kelvin"), ("gallons", "liters"),
          ("liters", "gallons"), ("cups", "milliliters")]
_OP_WORDS = {"add": ["plus", "added to"], "subtract": ["minus"], "multiply": ["times", "multiplied by"],
             "divide": ["divided by", "over"], "power": ["to the power of", "raised to"], "modulo": ["modulo", "mod"]}
_MEASURES = {"mean": ["mean", "average"], "median": ["median"], "max": ["maximum", "largest value"],
             "min": ["minimum", "smallest value"], "sum": ["sum", "total"], "stdev": ["standard deviation"]}


def _num(rng: random.Random, lo: int = 1, hi: int = 500) -> float:
    return float(rng.randrange(lo, hi)) if rng.random() < 0.7 else round(rng.uniform(lo, hi), rng.choice([1, 2]))


def _say_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _units(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    src, dst = rng.choice(_PAIRS)
    value = _num(rng)
    return Sample({"value": _say_num(value), "from_unit": src, "to_unit": dst},
                  [("convert_units", {"value": [value], "from_unit": [src], "to_unit": [dst]})])


def _currency_args(rng: random.Random, split: str) -> tuple[dict[str, str], dict[str, list], float, str, str]:
    src, dst = rng.sample(ENTITIES[split]["currencies"], 2)
    amount = float(rng.choice([10, 20, 50, 75, 100, 250, 500, 1000, 1200]))
    said = say_money(rng, amount) if src == "USD" and rng.random() < 0.5 else f"{_say_num(amount)} {src}"
    return ({"amount": said, "from_currency": src, "to_currency": dst},
            {"amount": [amount], "from_currency": [src], "to_currency": [dst]}, amount, src, dst)


def _currency(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    slots, args, *_ = _currency_args(rng, split)
    return Sample(slots, [("convert_currency", args)])


def _math(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    op = rng.choice(list(_OPS))
    a, b = _num(rng, 2, 200), (float(rng.randrange(2, 6)) if op == "power" else _num(rng, 1, 100))
    return Sample({"a": _say_num(a), "op": rng.choice(_OP_WORDS[op]), "b": _say_num(b)},
                  [("basic_math", {"operation": [op], "a": [a], "b": [b]})])


def _stats(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    numbers = [float(rng.randrange(1, 100)) for _ in range(rng.randint(3, 6))]
    measure = rng.choice(list(_MEASURES))
    return Sample({"numbers": and_list([_say_num(x) for x in numbers]), "measure": rng.choice(_MEASURES[measure])},
                  [("statistics", {"numbers": [numbers], "measure": [measure]})])


def _store(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    name = rng.choice(ENTITIES[split]["variables"])
    value = _num(rng)
    return Sample({"name": name, "value": _say_num(value)}, [("store_variable", {"name": [name], "value": [value]})])


def _convert_and_store(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    slots, args, amount, src, dst = _currency_args(rng, split)
    name = rng.choice(ENTITIES[split]["variables"])
    result = CalculatorAPI(s).convert_currency(amount, src, dst)["amount"]  # read-only
    slots["name"] = name
    return Sample(slots, [("convert_currency", args), ("store_variable", {"name": [name], "value": [result]})])


INTENTS = [
    Intent("calculator.units", (
        "Convert {value} {from_unit} to {to_unit}.",
        "How many {to_unit} is {value} {from_unit}?",
        "What's {value} {from_unit} in {to_unit}?",
        "Please express {value} {from_unit} in {to_unit}.",
        "I have {value} {from_unit}. How much is that in {to_unit}?",
        "Turn {value} {from_unit} into {to_unit}.",
        "{value} {from_unit} equals how many {to_unit}?",
        "Change {value} {from_unit} to {to_unit} for me.",
    ), _units, missing={"to_unit": (
        "Convert {value} {from_unit}.",
        "Can you convert {value} {from_unit} for me?",
        "I need {value} {from_unit} converted.",
        "Please convert a measurement: {value} {from_unit}.",
        "Convert {value} {from_unit} into another unit.",
        "Help me convert {value} {from_unit}.",
        "What would {value} {from_unit} be after conversion?",
        "I have {value} {from_unit} to convert.",
    )}),
    Intent("calculator.currency", (
        "Convert {amount} to {to_currency}.",
        "How much is {amount} in {to_currency}?",
        "What's {amount} worth in {to_currency}?",
        "Exchange {amount} into {to_currency}.",
        "I have {amount}. What is that in {to_currency}?",
        "Tell me the {to_currency} value of {amount}.",
        "Change {amount} to {to_currency}, please.",
        "{amount} equals how much {to_currency}?",
    ), _currency),
    Intent("calculator.math", (
        "What is {a} {op} {b}?",
        "Calculate {a} {op} {b}.",
        "Compute {a} {op} {b} for me.",
        "Can you work out {a} {op} {b}?",
        "Quick math: {a} {op} {b}?",
        "I need the result of {a} {op} {b}.",
        "Figure out {a} {op} {b}.",
        "Solve {a} {op} {b}.",
    ), _math),
    Intent("calculator.stats", (
        "What's the {measure} of {numbers}?",
        "Calculate the {measure} of these numbers: {numbers}.",
        "Give me the {measure} for {numbers}.",
        "Find the {measure} of {numbers}.",
        "I have the values {numbers}. What is their {measure}?",
        "Compute the {measure} of the data {numbers}.",
        "Determine the {measure} of {numbers}.",
        "Tell me the {measure} of {numbers}.",
    ), _stats),
    Intent("calculator.store", (
        "Save {value} as {name}.",
        "Store the number {value} under the name {name}.",
        "Remember {value} as {name}.",
        "Set {name} to {value}.",
        "Put {value} in a variable called {name}.",
        "Keep {value} stored as {name}.",
        "Record {name} = {value}.",
        "Let {name} be {value} from now on.",
    ), _store),
    Intent("calculator.convert_and_store", (
        "Convert {amount} to {to_currency} and save the result as {name}.",
        "How much is {amount} in {to_currency}? Store it as {name}.",
        "Exchange {amount} into {to_currency} and remember the amount as {name}.",
        "Work out {amount} in {to_currency}, then save that as {name}.",
        "Convert {amount} into {to_currency} and keep the result in {name}.",
        "Find the {to_currency} value of {amount} and store it under {name}.",
        "Turn {amount} into {to_currency} and record the result as {name}.",
        "Get {amount} in {to_currency} and put the number in a variable called {name}.",
    ), _convert_and_store),
]

OUT_OF_SCOPE = (
    "Solve the equation x squared plus 3x minus 4 equals zero.",
    "Plot the function sine of x.",
    "What is the derivative of x cubed?",
    "Integrate e to the x from 0 to 1.",
    "Is 7919 a prime number?",
    "Invert this 3 by 3 matrix for me.",
    "What will the euro exchange rate be next month?",
    "Show me how the dollar moved over the past year.",
)
